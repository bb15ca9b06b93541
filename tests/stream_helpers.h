/* Shared helpers for the stream tests (test_stream_read.c,
 * test_stream_chunks.c, test_stream_write.c, test_stream_faults.c).
 * Header-only: everything is static inline.
 *
 * Streams are made over socketpair(AF_UNIX, SOCK_STREAM) or over a TCP
 * loopback pair made with plain sockets; the "raw" peer is a plain
 * non-blocking fd that the test drives byte by byte with write(2),
 * shutdown(2) and close(2).  The tests include src/stream.h to see when a
 * task is parked inside a stream call (s->reader, s->drainers), which is
 * how they synchronise without sleeping. */
#ifndef CIO_TEST_STREAM_HELPERS_H
#define CIO_TEST_STREAM_HELPERS_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio.h"
#include "fault.h"
#include "helpers.h"
#include "stream.h"

/* Run main_task as the main task of a fresh loop, with SIGPIPE at its
 * default action (so a SIGPIPE kills the test); it must return 0 and
 * close every fd it opened. */
static inline void stream_test_run(cio_task_fn main_task)
{
    signal(SIGPIPE, SIG_DFL);
    int fds = t_count_fds();
    intptr_t rc = cio_run(main_task, NULL);
    cr_assert_eq(rc, 0, "main task returned %ld", (long)rc);
    cr_assert_eq(t_count_fds(), fds, "fd leak: %d open, %d before", t_count_fds(), fds);
}

/* A Criterion test whose body runs as in stream_test_run. */
#define STREAM_TEST(suite, name)                                                                   \
    static intptr_t suite##_##name##_main(void *arg_);                                             \
    Test(suite, name)                                                                              \
    {                                                                                              \
        stream_test_run(suite##_##name##_main);                                                    \
    }                                                                                              \
    static intptr_t suite##_##name##_main(void *arg_ __attribute__((unused)))

/* Yield until cond holds; bounded, so a bug fails instead of hanging. */
#define YIELD_UNTIL(cond)                                                                          \
    do {                                                                                           \
        int n_ = 0;                                                                                \
        while (!(cond) && n_++ < 100000)                                                           \
            cr_assert_eq(cio_yield(), 0);                                                          \
        cr_assert((cond), "gave up waiting for: %s", #cond);                                       \
    } while (0)

/* Let the loop poll the I/O backend once (busy loops poll only now and
 * then): park until fd, which must be writable, is reported writable.
 * Every pending readiness event is dispatched in that poll. */
static inline void poll_io(int writable_fd)
{
    cr_assert_eq(cio_wait_writable(writable_fd), 0);
}

/* ---- raw fds ---------------------------------------------------------------- */

static inline void fd_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    cr_assert_geq(fl, 0);
    cr_assert_eq(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

/* Bytes waiting in fd's receive queue. */
static inline int fd_pending(int fd)
{
    int n = -1;
    cr_assert_eq(ioctl(fd, FIONREAD, &n), 0, "FIONREAD: %s", strerror(errno));
    return n;
}

/* Write all of p to a non-blocking fd, waiting (cio_wait_writable) when
 * it is full. */
static inline void fd_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EAGAIN) {
            cr_assert_eq(cio_wait_writable(fd), 0);
            continue;
        }
        cr_assert_gt(w, 0, "write: %s", strerror(errno));
        c += w;
        n -= (size_t)w;
    }
}

static inline void fd_write_str(int fd, const char *s)
{
    fd_write_all(fd, s, strlen(s));
}

/* Read what is there (waiting until something is): > 0 bytes, 0 at EOF,
 * or -errno for a connection error. */
static inline ssize_t fd_read_some(int fd, void *buf, size_t cap)
{
    for (;;) {
        ssize_t r = read(fd, buf, cap);
        if (r >= 0)
            return r;
        if (errno != EAGAIN)
            return -errno;
        cr_assert_eq(cio_wait_readable(fd), 0);
    }
}

static inline void fd_read_exact(int fd, void *buf, size_t n)
{
    char *c = buf;
    while (n) {
        ssize_t r = fd_read_some(fd, c, n);
        cr_assert_gt(r, 0, "fd_read_exact: %zd with %zu left", r, n);
        c += r;
        n -= (size_t)r;
    }
}

/* Read until EOF; returns the count and (if out) a malloc'd copy.  A
 * connection error fails the test. */
static inline size_t fd_read_to_eof(int fd, char **out)
{
    size_t len = 0, cap = 65536;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    for (;;) {
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf);
        }
        ssize_t r = fd_read_some(fd, buf + len, cap - len);
        cr_assert_geq(r, 0, "fd_read_to_eof: %s", strerror((int)-r));
        if (r == 0)
            break;
        len += (size_t)r;
    }
    if (out)
        *out = buf;
    else
        free(buf);
    return len;
}

/* Fill fd's send side (and the peer's receive side) until EAGAIN;
 * returns the bytes written. */
static inline size_t fd_fill(int fd)
{
    static char junk[4096];
    size_t total = 0;
    for (;;) {
        ssize_t w = write(fd, junk, sizeof(junk));
        if (w < 0) {
            cr_assert_eq(errno, EAGAIN, "fd_fill: %s", strerror(errno));
            return total;
        }
        total += (size_t)w;
    }
}

/* Read and discard exactly n bytes. */
static inline void fd_discard(int fd, size_t n)
{
    char buf[8192];
    while (n) {
        ssize_t r = fd_read_some(fd, buf, n < sizeof(buf) ? n : sizeof(buf));
        cr_assert_gt(r, 0, "fd_discard: %zd with %zu left", r, n);
        n -= (size_t)r;
    }
}

/* Close with SO_LINGER {1, 0}: the peer gets a reset (TCP). */
static inline void fd_rst_close(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    cr_assert_eq(close(fd), 0);
}

static inline void fd_sndbuf(int fd, int size)
{
    cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)), 0);
}

/* A connected AF_UNIX stream socketpair, both ends non-blocking. */
static inline void unix_pair(int sv[2])
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

/* A connected TCP pair over 127.0.0.1, made with a listener on port 0 that
 * is closed again; both ends non-blocking. */
static inline void tcp_pair(int *client, int *server)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(l, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    cr_assert_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(l, 1), 0);
    cr_assert_eq(getsockname(l, (struct sockaddr *)&sa, &sl), 0);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(c, 0);
    cr_assert_eq(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
    int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    cr_assert_geq(s, 0);
    close(l);
    fd_nonblock(c);
    fd_nonblock(s);
    *client = c;
    *server = s;
}

/* ---- streams ---------------------------------------------------------------- */

static inline cio_stream *stream_on(int fd, const cio_stream_opts *opts)
{
    cio_stream *s = NULL;
    int rc = cio_stream_from_fd(&s, fd, opts);
    cr_assert_eq(rc, 0, "cio_stream_from_fd: %s", cio_strerror(rc));
    cr_assert_not_null(s);
    return s;
}

static inline cio_stream_opts opts_limit(ssize_t limit)
{
    cio_stream_opts o = CIO_STREAM_OPTS_INIT;
    o.limit = limit;
    return o;
}

/* A stream on one end of a socketpair; *peer gets the other, raw, end. */
static inline cio_stream *raw_pair(int *peer, const cio_stream_opts *opts)
{
    int sv[2];
    unix_pair(sv);
    *peer = sv[1];
    return stream_on(sv[0], opts);
}

/* Streams on both ends of a socketpair. */
static inline void stream_pair(cio_stream **a, cio_stream **b, const cio_stream_opts *opts)
{
    int sv[2];
    unix_pair(sv);
    *a = stream_on(sv[0], opts);
    *b = stream_on(sv[1], opts);
}

/* A stream on the client end of a TCP loopback pair; *peer is the
 * accepted (raw) end. */
static inline cio_stream *tcp_raw_pair(int *peer, const cio_stream_opts *opts)
{
    int c, srv;
    tcp_pair(&c, &srv);
    *peer = srv;
    return stream_on(c, opts);
}

/* Close a stream for good: abort (no flushing) and release. */
static inline void stream_drop(cio_stream *s)
{
    cio_abort(s);
    cio_stream_release(s);
}

static inline size_t drainer_count(const cio_stream *s)
{
    size_t n = 0;
    if (s->drainers.next == NULL)
        return 0;
    for (const cio__node *p = s->drainers.next; p != &s->drainers; p = p->next)
        n++;
    return n;
}

/* Deterministic test data. */
static inline void pattern_fill(char *buf, size_t n, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (char)(x >> 11);
    }
}

static inline char *pattern_new(size_t n, unsigned seed)
{
    char *p = malloc(n ? n : 1);
    cr_assert_not_null(p);
    pattern_fill(p, n, seed);
    return p;
}

/* ---- a stream call in its own task ----------------------------------------------- */

enum op_kind {
    OP_READ,
    OP_READEXACTLY,
    OP_READUNTIL,
    OP_READUNTIL_ANY,
    OP_READLINE,
    OP_READ_ALL,
    OP_DRAIN,
    OP_WAIT_CLOSED,
};

enum { OP_BUF = 8192 };

/* One call on a stream run by op_task: the result and the bytes, and
 * whether it ran inside a timeout scope that expired. */
typedef struct op {
    cio_stream *s;
    enum op_kind kind;
    size_t n;        /* read / readexactly count; 0 = OP_BUF for the others */
    const void *sep; /* readuntil */
    size_t seplen;
    const struct iovec *seps; /* readuntil_any */
    size_t nseps;
    double timeout; /* > 0: run inside a timeout scope */
    bool expired;
    int started;
    ssize_t rc;
    size_t partial;
    size_t write_size; /* drain: cio_write_buffer_size when drain returned */
    double elapsed;
    char buf[OP_BUF];
    char *all; /* read_all */
    size_t all_len;
} op;

static inline ssize_t op_call(op *o)
{
    size_t cap = o->n ? o->n : OP_BUF;
    cr_assert_leq(cap, OP_BUF, "op buffer too small for n = %zu", cap);
    switch (o->kind) {
    case OP_READ:
        return cio_read(o->s, o->buf, cap);
    case OP_READEXACTLY:
        return cio_readexactly(o->s, o->buf, cap, &o->partial);
    case OP_READUNTIL:
        return cio_readuntil(o->s, o->sep, o->seplen, o->buf, cap);
    case OP_READUNTIL_ANY:
        return cio_readuntil_any(o->s, o->seps, o->nseps, o->buf, cap);
    case OP_READLINE:
        return cio_readline(o->s, o->buf, cap);
    case OP_READ_ALL:
        return cio_read_all(o->s, &o->all, &o->all_len);
    case OP_DRAIN: {
        ssize_t rc = cio_drain(o->s);
        o->write_size = cio_write_buffer_size(o->s);
        return rc;
    }
    case OP_WAIT_CLOSED:
        return cio_wait_closed(o->s);
    }
    return -EINVAL;
}

static inline intptr_t op_task(void *arg)
{
    op *o = arg;
    cio_timeout scope;
    double t0 = cio_time();
    o->started = 1;
    if (o->timeout > 0)
        cio_timeout_enter(&scope, o->timeout);
    o->rc = op_call(o);
    if (o->timeout > 0)
        o->expired = cio_timeout_exit(&scope);
    o->elapsed = cio_time() - t0;
    return 0;
}

static inline cio_task *op_spawn(op *o)
{
    return t_spawn(op_task, o);
}

/* Spawn o and wait until it is parked inside its stream call: a reader in
 * s->reader, a drainer on s->drainers. */
static inline cio_task *op_spawn_blocked(op *o)
{
    cio_task *t = op_spawn(o);
    if (o->kind == OP_DRAIN) {
        size_t before = drainer_count(o->s);
        YIELD_UNTIL(drainer_count(o->s) > before);
    } else if (o->kind == OP_WAIT_CLOSED) {
        YIELD_UNTIL(o->started);
        t_yield_n(2);
        cr_assert(!cio_task_done(t), "wait_closed returned at once");
    } else {
        YIELD_UNTIL(o->s->reader == t);
    }
    return t;
}

static inline void op_join(cio_task *t)
{
    cr_assert_eq(t_join(t), 0);
}

/* Assert o returned exactly the bytes of want. */
#define OP_EXPECT(o, want)                                                                         \
    do {                                                                                           \
        size_t wl_ = strlen(want);                                                                 \
        cr_assert_eq((o)->rc, (ssize_t)wl_, "rc %zd (%s), want %zu \"%s\"", (o)->rc,               \
                     (o)->rc < 0 ? cio_err_name((int)(o)->rc) : "bytes", wl_, want);               \
        cr_assert(memcmp((o)->buf, want, wl_) == 0, "got \"%.*s\", want \"%s\"", (int)wl_,         \
                  (o)->buf, want);                                                                 \
    } while (0)

/* Assert a read call returned the bytes of want (buf holds them). */
#define EXPECT_BYTES(rc, buf, want)                                                                \
    do {                                                                                           \
        ssize_t r_ = (rc);                                                                         \
        size_t wl_ = strlen(want);                                                                 \
        cr_assert_eq(r_, (ssize_t)wl_, "rc %zd (%s), want %zu \"%s\"", r_,                         \
                     r_ < 0 ? cio_err_name((int)r_) : "bytes", wl_, want);                         \
        cr_assert(memcmp((buf), want, wl_) == 0, "got \"%.*s\", want \"%s\"", (int)wl_,            \
                  (const char *)(buf), want);                                                      \
    } while (0)

#define EXPECT_ERR(rc, want)                                                                       \
    do {                                                                                           \
        ssize_t r_ = (rc);                                                                         \
        cr_assert_eq(r_, (ssize_t)(want), "rc %zd (%s), want %s", r_,                              \
                     r_ < 0 ? cio_err_name((int)r_) : "bytes", cio_err_name((int)(want)));         \
    } while (0)

/* ---- full sockets ---------------------------------------------------------- */

enum { MiB = 1024 * 1024 };

/* A stream whose socket is full: every write queues.  *filled is what
 * the peer has to read before it sees the stream's writes. */
static inline cio_stream *full_pair(int *peer, size_t *filled, const cio_stream_opts *opts)
{
    cio_stream *s = raw_pair(peer, opts);
    *filled = fd_fill(cio_stream_fd(s));
    return s;
}

/* Read everything up to EOF from peer and check it is `skip` bytes of
 * filler followed by exactly want[0..len). */
static inline void expect_peer_gets(int peer, size_t skip, const char *want, size_t len)
{
    char *got = NULL;
    size_t n = fd_read_to_eof(peer, &got);
    cr_assert_eq(n, skip + len, "peer got %zu bytes, want %zu + %zu", n, skip, len);
    cr_assert(memcmp(got + skip, want, len) == 0, "peer got the bytes out of order");
    free(got);
}

#endif
