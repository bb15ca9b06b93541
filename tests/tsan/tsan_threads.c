/* The cross-thread paths of cio under ThreadSanitizer (the CIO_TSAN build,
 * docs/reliability.md).
 *
 * Criterion's runner cannot start under TSan (its BoxFort arena needs a
 * fixed free address range that TSan's shadow memory occupies), so this
 * is a plain program that ctest runs.  Each scenario hands data across
 * threads the way applications do and checks it arrived; TSan checks
 * that every hand-over is ordered (a data race aborts the run, see
 * halt_on_error in CMakeLists.txt):
 *  - call_soon_threadsafe from four threads at once, each callback
 *    reading what its thread wrote just before posting it;
 *  - cio_to_thread from many tasks, workers writing into task memory that
 *    the task reads after the call returns;
 *  - two loops on two threads sharing the thread pool;
 *  - a loop whose run ends while its workers still run. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cio.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "tsan_threads: %s:%d: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* ---- call_soon_threadsafe from several threads ------------------------- */

enum { NPROD = 4, NCALLS = 2000 };

struct post {
    int producer, seq;
    char payload[32]; /* written by the producer, read on the loop */
};

static struct {
    cio_loop *loop;
    struct post posts[NPROD][NCALLS];
    int next[NPROD]; /* loop thread only */
    int total;
    cio_event all_done;
} cs;

static void on_loop(void *arg)
{
    struct post *p = arg;
    char want[32];
    snprintf(want, sizeof(want), "call %d/%d", p->producer, p->seq);
    CHECK(strcmp(p->payload, want) == 0);
    CHECK(cs.next[p->producer] == p->seq); /* FIFO per producer */
    cs.next[p->producer]++;
    if (++cs.total == NPROD * NCALLS)
        cio_event_set(&cs.all_done);
}

static void *producer(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < NCALLS; i++) {
        struct post *p = &cs.posts[id][i];
        p->producer = id;
        p->seq = i;
        snprintf(p->payload, sizeof(p->payload), "call %d/%d", id, i);
        CHECK(cio_call_soon_threadsafe(cs.loop, on_loop, p) == 0);
    }
    return NULL;
}

static intptr_t call_soon_main(void *arg)
{
    (void)arg;
    pthread_t th[NPROD];
    cs.loop = cio_loop_current();
    cio_event_init(&cs.all_done);
    for (int i = 0; i < NPROD; i++)
        CHECK(pthread_create(&th[i], NULL, producer, (void *)(intptr_t)i) == 0);
    CHECK(cio_event_wait(&cs.all_done) == 0);
    for (int i = 0; i < NPROD; i++)
        CHECK(pthread_join(th[i], NULL) == 0);
    return cs.total;
}

/* ---- cio_to_thread ---------------------------------------------------- */

enum { NTASKS = 16, NROUNDS = 20 };

struct job {
    int in;
    int out[64]; /* written by the worker, read by the task */
};

static intptr_t work(void *arg)
{
    struct job *j = arg;
    for (int i = 0; i < 64; i++)
        j->out[i] = j->in * 64 + i;
    return j->in;
}

static intptr_t to_thread_task(void *arg)
{
    int base = (int)(intptr_t)arg;
    for (int r = 0; r < NROUNDS; r++) {
        struct job j = {.in = base * NROUNDS + r};
        intptr_t result = -1;
        CHECK(cio_to_thread(work, &j, &result) == 0);
        CHECK(result == j.in);
        for (int i = 0; i < 64; i++)
            CHECK(j.out[i] == j.in * 64 + i);
    }
    return 0;
}

static intptr_t to_thread_main(void *arg)
{
    (void)arg;
    cio_task *t[NTASKS];
    for (int i = 0; i < NTASKS; i++)
        CHECK(cio_spawn(&t[i], to_thread_task, (void *)(intptr_t)i, NULL) == 0);
    CHECK(cio_gather(t, NTASKS, NULL) == 0);
    return 0;
}

static void *loop_thread(void *arg)
{
    (void)arg;
    return (void *)cio_run(to_thread_main, NULL);
}

/* ---- a run that ends while its workers are busy ------------------------ */

static intptr_t slow_work(void *arg)
{
    struct job *j = arg;
    j->in = 1; /* started: cio_run must wait for the rest */
    for (int i = 0; i < 64; i++)
        j->out[i] = i;
    return 0;
}

static struct job slow_jobs[8];

static intptr_t slow_task(void *arg)
{
    /* Cancelled at the end of cio_run; the worker still finishes. */
    return cio_to_thread(slow_work, arg, NULL);
}

static intptr_t teardown_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < 8; i++)
        CHECK(cio_spawn(NULL, slow_task, &slow_jobs[i], NULL) == 0);
    return cio_yield();
}

int main(void)
{
    CHECK(cio_run(call_soon_main, NULL) == NPROD * NCALLS);
    for (int p = 0; p < NPROD; p++)
        CHECK(cs.next[p] == NCALLS);

    CHECK(cio_run(to_thread_main, NULL) == 0);

    pthread_t a, b;
    CHECK(pthread_create(&a, NULL, loop_thread, NULL) == 0);
    CHECK(pthread_create(&b, NULL, loop_thread, NULL) == 0);
    void *ra, *rb;
    CHECK(pthread_join(a, &ra) == 0 && pthread_join(b, &rb) == 0);
    CHECK(ra == NULL && rb == NULL);

    CHECK(cio_run(teardown_main, NULL) == 0);
    /* cio_run waited for every worker that started (TSan checks that this
     * read is ordered after the worker's writes). */
    for (int i = 0; i < 8; i++)
        CHECK(slow_jobs[i].in == 0 || slow_jobs[i].out[63] == 63);
    puts("tsan_threads: ok");
    return 0;
}
