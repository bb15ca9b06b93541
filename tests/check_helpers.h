/* Shared by the tests whose bodies run as tasks and report a failure by
 * returning the line number of the check that failed, a fatal assertion
 * being no option on a task stack (test_connect.c, test_server.c): the
 * CHECK macros, the test macro and a socket address on loopback.
 * Header-only: everything is static inline. */
#ifndef CIO_TEST_CHECK_HELPERS_H
#define CIO_TEST_CHECK_HELPERS_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cio.h"

/* Set in a forked child, where Criterion's reporting must not be used. */
static bool check_in_child;

static inline void check_failed(const char *file, int line, const char *what)
{
    if (check_in_child) {
        const char *base = strrchr(file, '/');
        fprintf(stderr, "%s:%d: %s\n", base ? base + 1 : file, line, what);
    } else {
        cr_expect(0, "line %d: %s", line, what);
    }
}

/* Fail the test (without leaving the task) and return the line number. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            check_failed(__FILE__, __LINE__, #cond);                                               \
            return __LINE__;                                                                       \
        }                                                                                          \
    } while (0)

#define CHECK_EQ(expr, want)                                                                       \
    do {                                                                                           \
        long got_ = (long)(expr), want_ = (long)(want);                                            \
        if (got_ != want_) {                                                                       \
            char msg_[256];                                                                        \
            snprintf(msg_, sizeof(msg_), "%s = %ld (%s), want %ld (%s)", #expr, got_,              \
                     cio_err_name((int)got_), want_, cio_err_name((int)want_));                    \
            check_failed(__FILE__, __LINE__, msg_);                                                \
            return __LINE__;                                                                       \
        }                                                                                          \
    } while (0)

/* A test whose body runs as the main task, bounded by a 20 s scope, and
 * returns 0 (or the failing CHECK's line).  It is skipped (reported as
 * skipped) unless cond holds; extra arguments are Criterion test options. */
#define CHECK_TEST_IF(suite, name, cond, ...)                                                      \
    static intptr_t name##_body(void);                                                             \
    static intptr_t name##_main(void *a)                                                           \
    {                                                                                              \
        (void)a;                                                                                   \
        cio_timeout sc;                                                                            \
        cio_timeout_enter(&sc, 20);                                                                \
        intptr_t r = name##_body();                                                                \
        cio_timeout_exit(&sc);                                                                     \
        return r;                                                                                  \
    }                                                                                              \
    Test(suite, name, ##__VA_ARGS__)                                                               \
    {                                                                                              \
        if (!(cond))                                                                               \
            cr_skip_test("precondition: %s", #cond);                                               \
        intptr_t rc = cio_run(name##_main, NULL);                                                  \
        cr_assert_eq(rc, 0, "body failed: %ld", (long)rc);                                         \
    }                                                                                              \
    static intptr_t name##_body(void)

/* The address ip:port (numeric, of family AF_INET or AF_INET6) in *ss;
 * its length. */
static inline socklen_t make_sa(int family, const char *ip, uint16_t port,
                                struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        inet_pton(AF_INET, ip, &sin->sin_addr);
        return sizeof(*sin);
    }
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    inet_pton(AF_INET6, ip, &sin6->sin6_addr);
    return sizeof(*sin6);
}

#endif
