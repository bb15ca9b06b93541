/* TLS under stress and faults: key updates both ways, the handshake
 * cancelled or its stream closed midway, one-byte sends (every record
 * leaves and arrives in pieces), a reset on the Nth send, allocation
 * failures at every point of a handshake + echo, and contexts shared by
 * loops on four threads.  In every case: a clean error or full success,
 * no hang, no crash, no leak. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "cio.h"
#include "fault.h"
#include "tls_certs.h"

TestSuite(tls_faults, .timeout = 60);

/* OpenSSL's own allocations join cio's allocation fault site, so the
 * out-of-memory test reaches every allocation of a handshake, not only
 * cio's.  Installed before OpenSSL allocates anything. */
static void *ossl_malloc(size_t n, const char *file, int line)
{
    (void)file, (void)line;
    if (cio__fault_active && cio__fault_check(CIO_FAULT_ALLOC) > 0)
        return NULL;
    return malloc(n);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file, (void)line;
    if (cio__fault_active && cio__fault_check(CIO_FAULT_ALLOC) > 0)
        return NULL;
    return realloc(p, n);
}

static void ossl_free(void *p, const char *file, int line)
{
    (void)file, (void)line;
    free(p);
}

__attribute__((constructor)) static void ossl_hook(void)
{
    CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free);
}

/* Handshake over a fresh socketpair; the results in *crc and *src. */
static void pair_handshake(cio_tls_ctx *cc, cio_tls_ctx *sc, cio_stream **c, cio_stream **s,
                           int *crc, int *src)
{
    tc_stream_pair(c, s);
    tc_handshake(*c, cc, "localhost", *s, sc, crc, src);
}

static void drop(cio_stream *a, cio_stream *b)
{
    cio_abort(a);
    cio_abort(b);
    cio_stream_release(a);
    cio_stream_release(b);
}

static int echo(cio_stream *from, cio_stream *to, const char *msg)
{
    size_t len = strlen(msg);
    char *buf = malloc(len);
    int rc = cio_write(from, msg, len);
    if (!rc) {
        ssize_t n = cio_readexactly(to, buf, len, NULL);
        rc = n < 0 ? (int)n : memcmp(buf, msg, len) ? -EBADMSG : 0;
    }
    free(buf);
    return rc;
}

TLS_TEST(tls_faults, key_updates_both_ways)
{
    cio_tls_ctx *cc = tc_client("ca.pem", NULL, NULL), *sc = tc_server("server", 0, NULL);
    cio_stream *c, *s;
    int crc, src;
    pair_handshake(cc, sc, &c, &s, &crc, &src);
    ASSERT_RC(crc, 0);
    ASSERT_RC(src, 0);
    for (int i = 0; i < 4; i++) {
        /* Ask the peer to update too: its answer is a record its read
         * produces, which must reach us without any write of its own. */
        cio_stream *a = i % 2 ? c : s, *b = i % 2 ? s : c;
        cr_assert_eq(SSL_key_update(cio_stream_ssl(a), SSL_KEY_UPDATE_REQUESTED), 1);
        ASSERT_RC(echo(a, b, "after a key update\n"), 0);
        ASSERT_RC(echo(b, a, "and back\n"), 0);
    }
    cio_close(c);
    cio_close(s);
    ASSERT_RC(cio_wait_closed(c), 0);
    ASSERT_RC(cio_wait_closed(s), 0);
    tc_release(c, s, cc, sc);
    return 0;
}

/* A client handshake in the middle: its ClientHello has reached the
 * silent peer (peer_fd readable); then the helper cancels the task or
 * closes the stream. */
struct midway {
    int peer_fd;
    cio_task *task;
    cio_stream *stream;
};

static intptr_t cancel_midway(void *arg)
{
    struct midway *m = arg;
    int rc = cio_wait_readable(m->peer_fd);
    cio_cancel(m->task);
    return rc;
}

static intptr_t close_midway(void *arg)
{
    struct midway *m = arg;
    int rc = cio_wait_readable(m->peer_fd);
    cio_close(m->stream);
    return rc;
}

TLS_TEST(tls_faults, handshake_cancelled_midway)
{
    cio_tls_ctx *cc = tc_client("ca.pem", NULL, NULL);
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cio_stream *c;
    ASSERT_RC(cio_stream_from_fd(&c, sv[0], NULL), 0);
    cio_task *helper;
    struct midway m = {.peer_fd = sv[1], .task = cio_current()};
    ASSERT_RC(cio_spawn(&helper, cancel_midway, &m, NULL), 0);
    cio_start_tls_opts o = CIO_START_TLS_OPTS_INIT;
    o.server_hostname = "localhost";
    ASSERT_RC(cio_start_tls(c, cc, &o), -ECANCELED); /* the peer never answers */
    cr_assert(cio_is_closing(c));
    /* Cancelled: finish in a shielded scope. */
    cio_timeout shield;
    cio_shield_enter(&shield, 1.0);
    ASSERT_RC(cio_join(helper, NULL), 0);
    ASSERT_RC(cio_wait_closed(c), -ECANCELED);
    cio_timeout_exit(&shield);
    close(sv[1]);
    cio_stream_release(c);
    cio_tls_ctx_free(cc);
    return 0;
}

static intptr_t close_round(void *arg)
{
    cio_tls_ctx *cc = arg;
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cio_stream *c;
    ASSERT_RC(cio_stream_from_fd(&c, sv[0], NULL), 0);
    cio_task *helper;
    struct midway m = {.peer_fd = sv[1], .stream = c};
    ASSERT_RC(cio_spawn(&helper, close_midway, &m, NULL), 0);
    cio_start_tls_opts o = CIO_START_TLS_OPTS_INIT;
    o.server_hostname = "localhost";
    ASSERT_RC(cio_start_tls(c, cc, &o), -ECONNABORTED);
    ASSERT_RC(cio_join(helper, NULL), 0);
    close(sv[1]);
    cio_stream_release(c);
    return 0;
}

TLS_TEST(tls_faults, handshake_stream_closed_midway)
{
    cio_tls_ctx *cc = tc_client("ca.pem", NULL, NULL);
    cio_task *t;
    ASSERT_RC(cio_spawn(&t, close_round, cc, NULL), 0);
    ASSERT_RC(cio_join(t, NULL), 0);
    cio_tls_ctx_free(cc);
    return 0;
}

TLS_TEST(tls_faults, one_byte_writes)
{
    cio_tls_ctx *cc = tc_client("ca.pem", NULL, NULL), *sc = tc_server("server", 0, NULL);
    cio_stream *c, *s;
    int crc, src;
    tc_stream_pair(&c, &s);
    /* Every send moves at most a byte, so every record leaves in pieces
     * through the write queue and arrives in pieces.  (Short reads are
     * not injected: with edge-triggered readiness a recv cut short
     * without cause means "drained" to any stream.) */
    cio__fault_arm(CIO_FAULT_WRITE, 1, 0, true);
    tc_handshake(c, cc, "localhost", s, sc, &crc, &src);
    ASSERT_RC(crc, 0);
    ASSERT_RC(src, 0);
    char big[5000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    big[sizeof(big) - 1] = '\0';
    ASSERT_RC(echo(c, s, big), 0);
    ASSERT_RC(echo(s, c, "short answer\n"), 0);
    cr_assert_gt(cio__fault_calls(CIO_FAULT_WRITE), 5000);
    cio_close(c);
    cio_close(s);
    ASSERT_RC(cio_wait_closed(c), 0);
    ASSERT_RC(cio_wait_closed(s), 0);
    cio__fault_reset();
    tc_release(c, s, cc, sc);
    return 0;
}

TLS_TEST(tls_faults, reset_on_the_nth_send)
{
    cio_tls_ctx *cc = tc_client("ca.pem", NULL, NULL), *sc = tc_server("server", 0, NULL);
    unsigned long nth;
    for (nth = 1;; nth++) {
        cio_stream *c, *s;
        int crc, src;
        tc_stream_pair(&c, &s);
        cio__fault_arm(CIO_FAULT_WRITE, nth, ECONNRESET, false);
        tc_handshake(c, cc, "localhost", s, sc, &crc, &src);
        int erc = crc || src ? 0 : echo(c, s, "ping\n");
        if (!erc && !crc && !src)
            erc = echo(s, c, "pong\n");
        bool fired = cio__fault_calls(CIO_FAULT_WRITE) >= nth;
        cio__fault_reset();
        /* The side whose send failed reports the reset; the other one an
         * EOF in the handshake or a truncation afterwards. */
        cr_assert(fired || (!crc && !src && !erc), "nth %lu: %d %d %d", nth, crc, src, erc);
        cr_assert(crc <= 0 && src <= 0 && erc <= 0);
        drop(c, s);
        if (!fired)
            break;
    }
    cr_log_info("%lu sends", nth - 1);
    cr_assert_gt(nth, 5, "too few sends to be a real test");
    cio_tls_ctx_free(cc);
    cio_tls_ctx_free(sc);
    return 0;
}

TLS_TEST(tls_faults, out_of_memory_at_every_allocation)
{
    cio_tls_ctx *cc = tc_client("ca.pem", NULL, NULL), *sc = tc_server("server", 0, NULL);
    int successes = 0;
    unsigned long nth;
    for (nth = 1;; nth++) {
        cio_stream *c, *s;
        tc_stream_pair(&c, &s);
        struct tc_hs srv = {.s = s, .ctx = sc, .o = {NULL, 2.0, 1.0}};
        cio_task *t;
        ASSERT_RC(cio_spawn(&t, tc_hs_task, &srv, NULL), 0);
        cio__fault_arm(CIO_FAULT_ALLOC, nth, ENOMEM, false);
        cio_start_tls_opts o = {"localhost", 2.0, 1.0};
        int crc = cio_start_tls(c, cc, &o);
        if (crc)
            cio_abort(c); /* a client left plain must not keep the server waiting */
        ASSERT_RC(cio_join(t, NULL), 0);
        int erc = crc || srv.rc ? 0 : echo(c, s, "ping\n");
        bool fired = cio__fault_calls(CIO_FAULT_ALLOC) >= nth;
        cio__fault_reset();
        cr_assert(crc <= 0 && srv.rc <= 0 && erc <= 0);
        cr_assert(crc != CIO_ETLSHANDSHAKE_TIMEOUT && srv.rc != CIO_ETLSHANDSHAKE_TIMEOUT,
                  "nth %lu: a failure left the other side waiting", nth);
        successes += !crc && !srv.rc && !erc;
        drop(c, s);
        if (!fired)
            break;
    }
    cr_log_info("%lu allocation points, %d successes", nth - 1, successes);
    cr_assert_gt(nth, 20, "too few allocations to be a real test");
    cr_assert_gt(successes, 0);
    cio_tls_ctx_free(cc);
    cio_tls_ctx_free(sc);
    return 0;
}

/* ---- contexts shared by loops on several threads --------------------------------- */

struct shared {
    cio_tls_ctx *cc, *sc;
    int failures;
};

static intptr_t thread_main(void *arg)
{
    struct shared *sh = arg;
    for (int i = 0; i < 20; i++) {
        cio_stream *c, *s;
        int crc, src;
        pair_handshake(sh->cc, sh->sc, &c, &s, &crc, &src);
        if (crc || src || echo(c, s, "across threads\n"))
            sh->failures++;
        drop(c, s);
    }
    return 0;
}

static void *thread_run(void *arg)
{
    struct shared *sh = arg;
    struct shared mine = *sh;
    intptr_t rc = cio_run(thread_main, &mine);
    return (void *)(rc ? (intptr_t)-1 : (intptr_t)mine.failures);
}

Test(tls_faults, contexts_shared_by_loops_on_four_threads, .init = tc_setup, .fini = tc_teardown)
{
    /* Made outside any loop, used by four at once, freed after. */
    struct shared sh = {.cc = tc_client("ca.pem", NULL, NULL), .sc = tc_server("server", 0, NULL)};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, thread_run, &sh), 0);
    for (int i = 0; i < 4; i++) {
        void *res;
        cr_assert_eq(pthread_join(th[i], &res), 0);
        cr_assert_eq((intptr_t)res, 0, "thread %d: %ld", i, (long)(intptr_t)res);
    }
    cio_tls_ctx_free(sh.cc);
    cio_tls_ctx_free(sh.sc);
}
