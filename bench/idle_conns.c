/* Memory per idle connection of a cio server: a forked child serves
 * (each connection a task blocked in cio_read), the parent opens N
 * connections and compares the child's VmRSS before and after.
 * Target (issue "streams"): <= 6 KiB per connection at 10,000.
 *
 * usage: idle_conns [N]   (default 10000)  -> "idle_conns.rss_per_conn X KiB" */
#include <arpa/inet.h>
#include <cio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static int report_fd;
static long expected, accepted;

static void idle(cio_stream *s, void *arg)
{
    (void)arg;
    char buf[64];
    if (++accepted == expected) {
        char c = 'A';
        if (write(report_fd, &c, 1) != 1)
            exit(1);
    }
    cio_read(s, buf, sizeof(buf)); /* blocks until the parent closes */
}

static intptr_t serve(void *arg)
{
    (void)arg;
    cio_server *srv;
    cio_server_opts opts = CIO_SERVER_OPTS_INIT;
    opts.backlog = 4096;
    int rc = cio_start_server(&srv, idle, NULL, "127.0.0.1", 0, &opts);
    if (rc)
        return 1;
    uint16_t port = cio_server_port(srv);
    if (write(report_fd, &port, sizeof(port)) != sizeof(port))
        return 1;
    cio_server_serve_forever(srv);
    return 0;
}

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

int main(int argc, char **argv)
{
    expected = argc > 1 ? atol(argv[1]) : 10000;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)expected + 64) {
        fprintf(stderr, "idle_conns: RLIMIT_NOFILE %ld too low for %ld connections\n",
                (long)rl.rlim_cur, expected);
        return 1;
    }
    int p[2];
    if (pipe(p) < 0)
        return 1;
    pid_t child = fork();
    if (child == 0) {
        close(p[0]);
        report_fd = p[1];
        _exit((int)cio_run(serve, NULL));
    }
    close(p[1]);
    uint16_t port;
    if (read(p[0], &port, sizeof(port)) != sizeof(port))
        return 1;
    long before = rss_kib(child);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int *fds = calloc((size_t)expected, sizeof(int));
    for (long i = 0; i < expected; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            perror("idle_conns: connect");
            kill(child, SIGKILL);
            return 1;
        }
    }
    char c;
    if (read(p[0], &c, 1) != 1)
        return 1;
    long after = rss_kib(child);
    printf("idle_conns.connections %ld conns\n", expected);
    printf("idle_conns.rss_per_conn %.2f KiB\n", (double)(after - before) / (double)expected);
    for (long i = 0; i < expected; i++)
        close(fds[i]);
    free(fds);
    kill(child, SIGTERM);
    waitpid(child, NULL, 0);
    return 0;
}
