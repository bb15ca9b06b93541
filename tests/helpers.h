/* Shared helpers for the core runtime tests (test_task.c, test_scope.c,
 * test_timer.c, test_stack.c, test_loop.c, test_oom.c).  Header-only:
 * everything is static inline, so each test binary gets its own copy. */
#ifndef CIO_TEST_HELPERS_H
#define CIO_TEST_HELPERS_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio.h"

/* ---- sanitizers ----------------------------------------------------------- */

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifndef TEST_ASAN
#define TEST_ASAN 0
#endif

/* ---- running tasks ---------------------------------------------------------- */

/* A Criterion test whose body runs as the main task of a fresh loop:
 *
 *     TASK_TEST(suite, name) { ...; return 0; }
 *
 * The body must return 0; anything else fails the test with that value
 * (bodies return a line number or an error code to say what went wrong
 * when an assertion inside a task would be awkward). */
#define TASK_TEST(suite, name)                                                                     \
    static intptr_t suite##_##name##_main(void *arg_);                                             \
    Test(suite, name)                                                                              \
    {                                                                                              \
        intptr_t rc_ = cio_run(suite##_##name##_main, NULL);                                       \
        cr_assert_eq(rc_, 0, "main task returned %ld", (long)rc_);                                 \
    }                                                                                              \
    static intptr_t suite##_##name##_main(void *arg_ __attribute__((unused)))

/* Spawn fn(arg) with a handle, asserting success. */
static inline cio_task *t_spawn(cio_task_fn fn, void *arg)
{
    cio_task *t = NULL;
    int rc = cio_spawn(&t, fn, arg, NULL);
    cr_assert_eq(rc, 0, "cio_spawn: %s", cio_strerror(rc));
    cr_assert_not_null(t);
    return t;
}

static inline cio_task *t_spawn_named(cio_task_fn fn, void *arg, const char *name)
{
    cio_task *t = NULL;
    cio_task_opts o = {.name = name};
    int rc = cio_spawn(&t, fn, arg, &o);
    cr_assert_eq(rc, 0, "cio_spawn: %s", cio_strerror(rc));
    return t;
}

/* Join t, asserting the join itself succeeds, and return t's result. */
static inline intptr_t t_join(cio_task *t)
{
    intptr_t r = -12345;
    int rc = cio_join(t, &r);
    cr_assert_eq(rc, 0, "cio_join: %s", cio_strerror(rc));
    return r;
}

/* Yield until *flag becomes nonzero (bounded: a bug shows as a failure,
 * not a hang). */
static inline void t_yield_until(const volatile int *flag, int want)
{
    for (int i = 0; i < 10000 && *flag < want; i++)
        cr_assert_eq(cio_yield(), 0);
    cr_assert_geq(*flag, want, "only reached %d of %d", *flag, want);
}

/* Sets *(int *)flag when it runs.  Spawned just before a call that must
 * not suspend its caller, it shows whether the call let other tasks run. */
static inline intptr_t t_set_flag(void *flag)
{
    *(int *)flag = 1;
    return 0;
}

static inline void t_yield_n(int n)
{
    for (int i = 0; i < n; i++)
        cr_assert_eq(cio_yield(), 0);
}

/* ---- an order log ------------------------------------------------------------ */

typedef struct tlog {
    int v[256];
    int n;
} tlog;

static inline void tlog_push(tlog *l, int x)
{
    if (l->n < 256)
        l->v[l->n] = x;
    l->n++;
}

static inline void tlog_expect(const tlog *l, const int *want, int n)
{
    cr_assert_eq(l->n, n, "log has %d entries, want %d", l->n, n);
    for (int i = 0; i < n; i++)
        cr_assert_eq(l->v[i], want[i], "log[%d] = %d, want %d", i, l->v[i], want[i]);
}

#define TLOG_EXPECT(l, ...)                                                                        \
    tlog_expect((l), (int[]){__VA_ARGS__}, (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)))

/* ---- process resources ----------------------------------------------------------- */

/* Number of open file descriptors of this process. */
static inline int t_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own fd */
}

/* Whether this machine has IPv6 on loopback (::1 can be bound). */
static inline bool have_ipv6_loopback(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool ok = bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;
    close(fd);
    return ok;
}

#endif
