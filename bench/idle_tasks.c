/* Memory per idle task.
 *
 * Spawns 100,000 tasks at the default stack size (256 KiB, committed only
 * as touched), each of which parks on one shared cio_event; once all are
 * parked, reads the process's resident memory, then sets the event and
 * joins them all.
 *
 *   idle_tasks.rss_per_task   (VmRSS after - VmRSS before) / tasks, KiB:
 *                             the touched stack page(s) + the task struct
 *   idle_tasks.pte_per_task   (VmPTE after - VmPTE before) / tasks, KiB:
 *                             page tables (not in RSS, but real memory)
 *   idle_tasks.spawn          ns per spawn, up to all tasks parked
 *   idle_tasks.wake_join      ns per task to set the event and join all
 *
 * Each run is a fresh child process (fork), so memory freed by one run and
 * kept by the allocator cannot hide the next run's cost; the median of
 * RUNS runs is printed as "name value unit". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cio.h>

#include "bench_util.h"

enum { RUNS = 7, NTASKS = 100000 };

/* A "VmRSS:" style field of /proc/self/status, in KiB. */
static long status_kib(const char *field)
{
    char line[256];
    long v = -1;
    size_t len = strlen(field);
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, field, len) == 0) {
            v = strtol(line + len, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static cio_event go;
static size_t parked;
static cio_event all_parked;

static intptr_t idle(void *arg)
{
    (void)arg;
    if (++parked == NTASKS)
        cio_event_set(&all_parked); /* main runs once this task has parked too */
    return cio_event_wait(&go);
}

struct result {
    double rss_kib, pte_kib, spawn_ns, join_ns;
};

static intptr_t run_main(void *arg)
{
    struct result *r = arg;
    cio_task **t = malloc(NTASKS * sizeof(*t));
    if (!t)
        abort();
    cio_event_init(&go);
    cio_event_init(&all_parked);
    long rss0 = status_kib("VmRSS:"), pte0 = status_kib("VmPTE:");
    int64_t t0 = now_ns();
    for (size_t i = 0; i < NTASKS; i++) {
        int rc = cio_spawn(&t[i], idle, NULL, NULL);
        if (rc != 0) {
            fprintf(stderr, "idle_tasks: spawn %zu: %s\n", i, cio_strerror(rc));
            exit(1);
        }
    }
    cio_event_wait(&all_parked);
    int64_t t1 = now_ns();
    long rss1 = status_kib("VmRSS:"), pte1 = status_kib("VmPTE:");
    cio_event_set(&go);
    for (size_t i = 0; i < NTASKS; i++) {
        intptr_t res;
        if (cio_join(t[i], &res) != 0 || res != 0)
            abort();
    }
    int64_t t2 = now_ns();
    free(t);
    r->rss_kib = (double)(rss1 - rss0) / NTASKS;
    r->pte_kib = (double)(pte1 - pte0) / NTASKS;
    r->spawn_ns = (double)(t1 - t0) / NTASKS;
    r->join_ns = (double)(t2 - t1) / NTASKS;
    return 0;
}

/* One measurement in a fresh child process; the result comes back through
 * a pipe. */
static int measure(struct result *r)
{
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(fds[0]);
        struct result res;
        intptr_t rc = cio_run(run_main, &res);
        if (rc != 0) {
            fprintf(stderr, "idle_tasks: cio_run failed: %s\n", cio_strerror((int)rc));
            _exit(1);
        }
        _exit(write(fds[1], &res, sizeof(res)) == (ssize_t)sizeof(res) ? 0 : 1);
    }
    close(fds[1]);
    ssize_t n = read(fds[0], r, sizeof(*r));
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    return n == (ssize_t)sizeof(*r) && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int main(void)
{
    double rss[RUNS], pte[RUNS], spawn[RUNS], join[RUNS];
    for (int i = 0; i < RUNS; i++) {
        struct result r;
        if (measure(&r) != 0) {
            fprintf(stderr, "idle_tasks: run %d failed\n", i);
            return 1;
        }
        rss[i] = r.rss_kib;
        pte[i] = r.pte_kib;
        spawn[i] = r.spawn_ns;
        join[i] = r.join_ns;
    }
    printf("idle_tasks.rss_per_task %.2f KiB\n", median(rss, RUNS));
    printf("idle_tasks.pte_per_task %.2f KiB\n", median(pte, RUNS));
    printf("idle_tasks.spawn %.0f ns/task\n", median(spawn, RUNS));
    printf("idle_tasks.wake_join %.0f ns/task\n", median(join, RUNS));
    return 0;
}
