/* /proc readings and plain-socket clients for the attack tests. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "attack.h"

static long status_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    long kib = -1;
    size_t n = strlen(field);
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            kib = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
}

long atk_rss_kib(pid_t pid)
{
    return status_kib(pid, "VmRSS");
}

long atk_peak_rss_kib(pid_t pid)
{
    return status_kib(pid, "VmHWM");
}

void atk_reset_peak_rss(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/clear_refs", (int)pid);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fputs("5", f) >= 0 && fclose(f) == 0, true, "%s", path);
}

long atk_fd_count(pid_t pid)
{
    char path[64];
    long n = 0;
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    cr_assert_not_null(d, "%s: %s", path, strerror(errno));
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

double atk_cpu_seconds(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    /* Fields after the command name, which ends at the last ')': state is
     * field 3, utime 14, stime 15. */
    char *p = strrchr(buf, ')');
    cr_assert_not_null(p);
    unsigned long ut, st;
    cr_assert_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st), 2);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

double atk_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int atk_try_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

int atk_connect(uint16_t port)
{
    int fd = atk_try_connect(port);
    cr_assert_geq(fd, 0, "connect to port %u: %s", port, strerror(-fd));
    return fd;
}

void atk_set_nonblock(int fd)
{
    cr_assert_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

void atk_send_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        cr_assert_gt(k, 0, "send: %s", strerror(errno));
        p += k;
        n -= (size_t)k;
    }
}

/* Wait until fd is readable or the deadline passes. */
static bool wait_in(int fd, double deadline)
{
    double left = deadline - atk_now();
    if (left <= 0)
        return false;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, (int)(left * 1000) + 1) > 0;
}

size_t atk_recv_n(int fd, void *buf, size_t n, double timeout)
{
    double deadline = atk_now() + timeout;
    size_t got = 0;
    while (got < n && wait_in(fd, deadline)) {
        ssize_t k = recv(fd, (char *)buf + got, n - got, MSG_DONTWAIT);
        if (k < 0 && errno == EAGAIN)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    return got;
}

int atk_wait_peer_close(int fd, double timeout, size_t *drained)
{
    double deadline = atk_now() + timeout;
    char buf[16384];
    while (wait_in(fd, deadline)) {
        ssize_t k = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (k == 0)
            return 0;
        if (k < 0 && errno != EAGAIN)
            return -errno;
        if (k > 0 && drained)
            *drained += (size_t)k;
    }
    return -ETIMEDOUT;
}

double atk_echo_round(int fd, const char *line)
{
    size_t n = strlen(line);
    char buf[512];
    cr_assert_lt(n, sizeof(buf));
    double t0 = atk_now();
    atk_send_all(fd, line, n);
    size_t got = atk_recv_n(fd, buf, n, 5.0);
    double dt = atk_now() - t0;
    cr_assert_eq(got, n, "echo: got %zu of %zu bytes", got, n);
    cr_assert_eq(memcmp(buf, line, n), 0, "echo differs");
    return dt;
}

void atk_reset(int fd)
{
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}

void atk_raise_nofile(long want)
{
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rlim_t w = (rlim_t)want;
    if (w > rl.rlim_max)
        w = rl.rlim_max;
    if (rl.rlim_cur < w) {
        rl.rlim_cur = w;
        cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
}

long atk_wait_fds(pid_t pid, long want, double timeout)
{
    double deadline = atk_now() + timeout;
    long n;
    while ((n = atk_fd_count(pid)) > want && atk_now() < deadline)
        poll(NULL, 0, 10); /* polls a condition with a deadline */
    return n;
}
