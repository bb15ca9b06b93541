/* Shared helpers for the end-to-end tests (test_e2e.c, test_interop.c):
 * both ends made by the public API — cio_open_connection /
 * cio_open_unix_connection against cio_start_server /
 * cio_start_unix_server — an echo handler, a byte generator and a 64-bit
 * hash for bulk transfers.  Header-only, on top of stream_helpers.h (raw
 * fds, op tasks, EXPECT_*). */
#ifndef CIO_TEST_E2E_HELPERS_H
#define CIO_TEST_E2E_HELPERS_H

#include <stdio.h>
#include <sys/un.h>

#include "stream_helpers.h"

/* Every test body runs inside a timeout scope of this many seconds, so a
 * hang fails the test (every blocking call returns -ETIMEDOUT) instead of
 * waiting for Criterion's timeout. */
#define E2E_BOUND 30.0

/* A Criterion test whose body runs as the main task of a fresh loop,
 * bounded by E2E_BOUND, with SIGPIPE at its default action (so a SIGPIPE
 * kills the test) and a check that every fd opened was closed.  It is
 * skipped, with why as the message, unless cond holds.  Extra arguments
 * are Criterion test options (.init, .fini, .timeout).  The body must
 * return 0. */
#define E2E_TEST_IF(suite, name, cond, why, ...)                                                   \
    static intptr_t suite##_##name##_body(void);                                                   \
    static intptr_t suite##_##name##_main(void *arg_)                                              \
    {                                                                                              \
        (void)arg_;                                                                                \
        cio_timeout scope_;                                                                        \
        cio_timeout_enter(&scope_, E2E_BOUND);                                                     \
        intptr_t r_ = suite##_##name##_body();                                                     \
        cr_assert(!cio_timeout_exit(&scope_), "the test ran out of its %g s", E2E_BOUND);          \
        return r_;                                                                                 \
    }                                                                                              \
    Test(suite, name, ##__VA_ARGS__)                                                               \
    {                                                                                              \
        if (!(cond))                                                                               \
            cr_skip_test("%s", why);                                                               \
        stream_test_run(suite##_##name##_main);                                                    \
    }                                                                                              \
    static intptr_t suite##_##name##_body(void)

#define E2E_TEST(suite, name, ...) E2E_TEST_IF(suite, name, true, "", ##__VA_ARGS__)

#define ASSERT_OK(expr)                                                                            \
    do {                                                                                           \
        long rc_ = (long)(expr);                                                                   \
        cr_assert_eq(rc_, 0, "%s = %ld (%s)", #expr, rc_, cio_err_name((int)rc_));                 \
    } while (0)

/* A socket path of its own for each call in this process. */
static inline void e2e_unix_path(char *buf, size_t cap, const char *tag)
{
    static int seq;
    snprintf(buf, cap, "/tmp/cio-e2e-%d-%s-%d.sock", (int)getpid(), tag, seq++);
    unlink(buf);
}

/* Close gracefully, expect wait_closed to say want, release. */
static inline void stream_finish(cio_stream *s, int want)
{
    cio_close(s);
    EXPECT_ERR(cio_wait_closed(s), want);
    cio_stream_release(s);
}

/* Abort with SO_LINGER {1, 0}, so the peer gets a TCP reset (a plain
 * abort of a socket without unread input may send a FIN). */
static inline void stream_reset(cio_stream *s)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    cr_assert_eq(setsockopt(cio_stream_fd(s), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    cio_abort(s);
}

/* ---- servers and clients over each kind of socket -------------------------------------------- */

enum e2e_kind { E2E_TCP4, E2E_TCP6, E2E_UNIX };

typedef struct e2e_server {
    enum e2e_kind kind;
    cio_server *srv;
    uint16_t port;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
} e2e_server;

static inline const char *e2e_host(enum e2e_kind kind)
{
    return kind == E2E_TCP6 ? "::1" : "127.0.0.1";
}

static inline int e2e_family(enum e2e_kind kind)
{
    return kind == E2E_TCP4 ? AF_INET : kind == E2E_TCP6 ? AF_INET6 : AF_UNIX;
}

/* Start a server for kind on loopback port 0 (or a fresh socket path). */
static inline void e2e_listen(e2e_server *es, enum e2e_kind kind, cio_conn_handler handler,
                              void *arg, const cio_server_opts *opts)
{
    es->kind = kind;
    if (kind == E2E_UNIX) {
        e2e_unix_path(es->path, sizeof(es->path), "srv");
        ASSERT_OK(cio_start_unix_server(&es->srv, handler, arg, es->path, opts));
    } else {
        ASSERT_OK(cio_start_server(&es->srv, handler, arg, e2e_host(kind), 0, opts));
        es->port = cio_server_port(es->srv);
        cr_assert_neq(es->port, 0);
    }
}

static inline cio_stream *e2e_connect(const e2e_server *es, const cio_connect_opts *opts)
{
    cio_stream *c = NULL;
    if (es->kind == E2E_UNIX)
        ASSERT_OK(cio_open_unix_connection(&c, es->path, opts));
    else
        ASSERT_OK(cio_open_connection(&c, e2e_host(es->kind), es->port, opts));
    cr_assert_not_null(c);
    return c;
}

/* Stop the server and wait (bounded) for its connection tasks. */
static inline void e2e_server_done(e2e_server *es)
{
    ASSERT_OK(cio_server_shutdown(es->srv, 5));
    cio_server_free(es->srv);
    es->srv = NULL;
}

/* The handler of e2e_pair: keep the accepted stream and hand it over. */
struct e2e_held {
    cio_stream *s;
    cio_event ready;
};

static inline void e2e_hold_handler(cio_stream *s, void *arg)
{
    struct e2e_held *h = arg;
    cio_stream_retain(s);
    h->s = s;
    cio_event_set(&h->ready);
}

/* A connection made by cio_open_connection to a cio server: *client is
 * the connecting end, *accepted the end the server's handler got. */
static inline void e2e_pair(enum e2e_kind kind, cio_stream **client, cio_stream **accepted)
{
    struct e2e_held h = {0};
    e2e_server es;
    e2e_listen(&es, kind, e2e_hold_handler, &h, NULL);
    *client = e2e_connect(&es, NULL);
    ASSERT_OK(cio_event_wait(&h.ready));
    e2e_server_done(&es);
    *accepted = h.s;
}

/* ---- an echo server -------------------------------------------------------------------------- */

struct e2e_echo {
    int conns, ended;
    ssize_t last;      /* the last read's result: 0 when the client's EOF ended it */
    size_t bytes;      /* bytes echoed */
    cio_event changed; /* set whenever conns or ended changes */
};

/* Echo every byte back until EOF or an error, then return: the server
 * closes the stream gracefully, flushing what is queued. */
static inline void e2e_echo_handler(cio_stream *s, void *arg)
{
    struct e2e_echo *st = arg;
    char buf[16384];
    st->conns++;
    cio_event_set(&st->changed);
    for (;;) {
        ssize_t n = cio_read(s, buf, sizeof(buf));
        st->last = n;
        if (n <= 0 || cio_write(s, buf, (size_t)n) != 0 || cio_drain(s) != 0)
            break;
        st->bytes += (size_t)n;
    }
    st->ended++;
    cio_event_set(&st->changed);
}

/* Wait (interruptibly) until the echo server has seen n handlers end. */
static inline void e2e_echo_wait_ended(struct e2e_echo *st, int n)
{
    while (st->ended < n) {
        cio_event_clear(&st->changed);
        ASSERT_OK(cio_event_wait(&st->changed));
    }
}

/* ---- bulk data: a generator and a hash ------------------------------------------------------- */

/* xorshift64: a long stream of bytes with no short period, so a lost,
 * repeated or reordered chunk changes the hash. */
typedef struct e2e_gen {
    uint64_t x;
} e2e_gen;

static inline e2e_gen e2e_gen_new(uint64_t seed)
{
    return (e2e_gen){seed * 0x9E3779B97F4A7C15u + 1};
}

/* Fill buf (n a multiple of 8) with the next n bytes of the stream. */
static inline void e2e_gen_fill(e2e_gen *g, void *buf, size_t n)
{
    cr_assert_eq(n % 8, 0);
    char *p = buf;
    for (size_t i = 0; i < n; i += 8) {
        g->x ^= g->x << 13;
        g->x ^= g->x >> 7;
        g->x ^= g->x << 17;
        memcpy(p + i, &g->x, 8);
    }
}

/* FNV-1a, 64 bits, with the byte count. */
typedef struct e2e_hash {
    uint64_t h;
    size_t n;
} e2e_hash;

static inline e2e_hash e2e_hash_new(void)
{
    return (e2e_hash){0xcbf29ce484222325u, 0};
}

static inline void e2e_hash_update(e2e_hash *hs, const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = hs->h;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3u;
    }
    hs->h = h;
    hs->n += n;
}

/* Read s to EOF in pieces of up to chunk bytes, hashing them; between
 * reads, yield `yields` times (a slow consumer).  rc is the read that
 * ended it: 0 for EOF. */
struct e2e_sink {
    cio_stream *s;
    size_t chunk;
    int yields;
    e2e_hash hash;
    ssize_t rc;
};

static inline intptr_t e2e_sink_task(void *arg)
{
    struct e2e_sink *k = arg;
    char *buf = malloc(k->chunk);
    cr_assert_not_null(buf);
    k->hash = e2e_hash_new();
    for (;;) {
        k->rc = cio_read(k->s, buf, k->chunk);
        if (k->rc <= 0)
            break;
        e2e_hash_update(&k->hash, buf, (size_t)k->rc);
        for (int i = 0; i < k->yields; i++)
            if ((k->rc = cio_yield()) != 0)
                goto out;
    }
out:
    free(buf);
    return 0;
}

/* Write `bytes` of the generator's stream (seeded with seed) in 64 KiB
 * writes, each followed by drain, hashing them; then end the stream:
 * write_eof, or for a pipe (no write_eof) a graceful close.  After every
 * write the queue is at most high water + one write (the streams here
 * have the default water marks); a drain entered above high water cannot
 * return before the queue is at low water, and is counted in `waited`. */
struct e2e_source {
    cio_stream *s;
    size_t bytes;
    uint64_t seed;
    e2e_hash hash;
    size_t waited, peak;
};

enum { E2E_CHUNK = 64 * 1024 };

static inline intptr_t e2e_source_task(void *arg)
{
    struct e2e_source *src = arg;
    const size_t high = CIO_DEFAULT_HIGH_WATER, low = high / 4;
    char *chunk = malloc(E2E_CHUNK);
    cr_assert_not_null(chunk);
    e2e_gen gen = e2e_gen_new(src->seed);
    src->hash = e2e_hash_new();
    for (size_t off = 0; off < src->bytes; off += E2E_CHUNK) {
        size_t n = src->bytes - off < E2E_CHUNK ? src->bytes - off : E2E_CHUNK;
        e2e_gen_fill(&gen, chunk, E2E_CHUNK);
        e2e_hash_update(&src->hash, chunk, n);
        ASSERT_OK(cio_write(src->s, chunk, n));
        size_t queued = cio_write_buffer_size(src->s);
        if (queued > src->peak)
            src->peak = queued;
        cr_assert_leq(queued, high + E2E_CHUNK, "queue %zu after a write at %zu", queued, off);
        ASSERT_OK(cio_drain(src->s));
        if (queued > high) {
            src->waited++;
            cr_assert_leq(cio_write_buffer_size(src->s), low, "drain returned above low water");
        }
    }
    free(chunk);
    if (cio_can_write_eof(src->s))
        ASSERT_OK(cio_write_eof(src->s));
    else
        cio_close(src->s);
    return 0;
}

/* Expect what sink received to be what src sent. */
static inline void e2e_expect_same(const struct e2e_source *src, const struct e2e_sink *sink)
{
    EXPECT_ERR(sink->rc, 0);
    cr_assert_eq(sink->hash.n, src->bytes, "received %zu of %zu bytes", sink->hash.n, src->bytes);
    cr_assert_eq(sink->hash.h, src->hash.h, "the received bytes differ from those sent");
}

/* Talk to an echo server on c, then close c: lines one by one with
 * readline, a block bigger than twice the reader limit with readexactly,
 * then `bulk` bytes written by a second task while this one reads the
 * echo back to the EOF that follows the client's write_eof. */
static inline void e2e_exercise_echo(cio_stream *c, size_t bulk)
{
    char line[64], back[64];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(line, sizeof(line), "line %d of the echo test\n", i);
        ASSERT_OK(cio_write(c, line, (size_t)n));
        ASSERT_OK(cio_drain(c));
        EXPECT_BYTES(cio_readline(c, back, sizeof(back)), back, line);
    }
    enum { BLOCK = 3 * CIO_DEFAULT_LIMIT + 1000 };
    char *block = pattern_new(BLOCK, 1), *got = malloc(BLOCK);
    cr_assert_not_null(got);
    /* No drain before reading: the echo only completes if the client reads
     * while its own queue is still flushing. */
    ASSERT_OK(cio_write(c, block, BLOCK));
    EXPECT_ERR(cio_readexactly(c, got, BLOCK, NULL), BLOCK);
    cr_assert(memcmp(got, block, BLOCK) == 0, "the echoed block differs");
    free(block);
    free(got);
    struct e2e_source src = {.s = c, .bytes = bulk, .seed = 5};
    struct e2e_sink sink = {.s = c, .chunk = E2E_CHUNK};
    cio_task *writer = t_spawn(e2e_source_task, &src);
    e2e_sink_task(&sink);
    cr_assert_eq(t_join(writer), 0);
    e2e_expect_same(&src, &sink);
    cr_assert(cio_at_eof(c));
    stream_finish(c, 0);
}

#endif
