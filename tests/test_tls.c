/* TLS over socketpairs with cio_start_tls on both ends: contexts, echo and
 * the reader operations, extra info, a 64 MiB transfer with backpressure,
 * clean close vs truncation, bounded close, every rejection with its own
 * error, ALPN, SNI, and STARTTLS with TLS bytes already buffered. */
#include <criterion/criterion.h>
#include <math.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "cio.h"
#include "stream.h"
#include "tls_certs.h"

TestSuite(tls, .timeout = 60);

static bool has(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle);
}

/* A connected, handshaken client/server pair. */
static void tls_pair(cio_tls_ctx *cc, cio_tls_ctx *sc, cio_stream **c, cio_stream **s)
{
    int crc, src;
    tc_stream_pair(c, s);
    tc_handshake(*c, cc, "localhost", *s, sc, &crc, &src);
    ASSERT_RC(crc, 0);
    ASSERT_RC(src, 0);
}

/* ---- contexts --------------------------------------------------------------- */

TLS_TEST(tls, contexts)
{
    cio_tls_ctx *c = NULL;
    ASSERT_RC(cio_tls_client_ctx(&c, NULL), 0); /* the system CA store */
    cr_assert(!cio_tls_ctx_is_server(c));
    cr_assert_not_null(cio_tls_ctx_native(c));
    cio_tls_ctx_retain(c);
    cio_tls_ctx_free(c);
    cio_tls_ctx_free(c);

    cio_tls_client_opts co = CIO_TLS_CLIENT_OPTS_INIT;
    co.cafile = tc_path("missing.pem");
    ASSERT_RC(cio_tls_client_ctx(&c, &co), -ENOENT);
    cr_assert_null(c);
    co.cafile = tc_path("ca.key"); /* not a certificate */
    ASSERT_RC(cio_tls_client_ctx(&c, &co), CIO_ETLS);
    cr_assert(strlen(cio_tls_error_reason(NULL)) > 0);
    co = (cio_tls_client_opts)CIO_TLS_CLIENT_OPTS_INIT;
    co.alpn = "h2,,http/1.1";
    ASSERT_RC(cio_tls_client_ctx(&c, &co), -EINVAL);
    co.alpn = NULL;
    co.min_version = 0x0301; /* TLS 1.0: refused */
    ASSERT_RC(cio_tls_client_ctx(&c, &co), -EINVAL);
    co.min_version = CIO_TLS_VERSION_1_3;
    co.max_version = CIO_TLS_VERSION_1_2;
    ASSERT_RC(cio_tls_client_ctx(&c, &co), -EINVAL);
    co = (cio_tls_client_opts)CIO_TLS_CLIENT_OPTS_INIT;
    co.keyfile = tc_path("client.key"); /* a key without its certificate */
    ASSERT_RC(cio_tls_client_ctx(&c, &co), -EINVAL);

    cio_tls_server_opts so = CIO_TLS_SERVER_OPTS_INIT;
    ASSERT_RC(cio_tls_server_ctx(&c, &so), -EINVAL); /* no certificate */
    so.certfile = tc_path("server.pem");
    so.keyfile = tc_path("client.key"); /* the wrong key */
    ASSERT_RC(cio_tls_server_ctx(&c, &so), CIO_ETLS);
    so.keyfile = tc_path("server.key");
    so.verify_client = CIO_TLS_VERIFY_REQUIRED; /* without client CAs */
    ASSERT_RC(cio_tls_server_ctx(&c, &so), -EINVAL);
    so.client_cafile = tc_path("ca.pem");
    ASSERT_RC(cio_tls_server_ctx(&c, &so), 0);
    cr_assert(cio_tls_ctx_is_server(c));
    cio_tls_ctx_free(c);
    return 0;
}

/* ---- session tickets ---------------------------------------------------------- */

static int tickets_seen;

static int count_ticket(SSL *ssl, SSL_SESSION *session)
{
    (void)ssl;
    (void)session;
    tickets_seen++;
    return 0; /* not kept */
}

/* How many TLS 1.3 session tickets a server made with num_tickets sends:
 * the client's new-session callback counts them as it reads them, and
 * they all come before the server's first byte of data. */
static int tickets_sent(int num_tickets)
{
    cio_tls_ctx *cc = tc_client("ca.pem", NULL, NULL), *sc = NULL;
    cio_tls_server_opts so = CIO_TLS_SERVER_OPTS_INIT;
    so.certfile = tc_path("server.pem");
    so.keyfile = tc_path("server.key");
    so.num_tickets = num_tickets;
    ASSERT_RC(cio_tls_server_ctx(&sc, &so), 0);
    SSL_CTX *native = cio_tls_ctx_native(cc);
    SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_CLIENT);
    SSL_CTX_sess_set_new_cb(native, count_ticket);
    tickets_seen = 0;
    cio_stream *c, *s;
    tls_pair(cc, sc, &c, &s);
    ASSERT_RC(cio_write(s, "x", 1), 0);
    char b;
    ASSERT_RC(cio_readexactly(c, &b, 1, NULL), 1);
    tc_release(c, s, cc, sc);
    return tickets_seen;
}

TLS_TEST(tls, num_tickets)
{
    cr_assert_eq(tickets_sent(0), 1); /* the default: one, as Go */
    cr_assert_eq(tickets_sent(CIO_TLS_NO_TICKETS), 0);
    cr_assert_eq(tickets_sent(3), 3);
    cio_tls_ctx *sc = NULL;
    cio_tls_server_opts so = CIO_TLS_SERVER_OPTS_INIT;
    so.certfile = tc_path("server.pem");
    so.keyfile = tc_path("server.key");
    so.num_tickets = CIO_TLS_NO_TICKETS - 1;
    ASSERT_RC(cio_tls_server_ctx(&sc, &so), -EINVAL);
    cr_assert_null(sc);
    return 0;
}

/* ---- echo, reader operations, extra info -------------------------------------- */

static void check_peer_info(cio_stream *c)
{
    char buf[256];
    cr_assert_str_eq(cio_stream_tls_version(c), "TLSv1.3");
    cr_assert_not_null(cio_stream_tls_cipher(c));
    cr_assert_null(cio_stream_tls_alpn(c));
    cr_assert_not_null(cio_stream_ssl(c));
    ASSERT_RC(cio_stream_peer_subject(c, buf, sizeof(buf)), strlen("CN=localhost,O=cio test"));
    cr_assert_str_eq(buf, "CN=localhost,O=cio test");
    ASSERT_RC(cio_stream_peer_issuer(c, NULL, 0), strlen("CN=cio test CA,O=cio test"));
    ASSERT_RC(cio_stream_peer_issuer(c, buf, 5), CIO_EBUFSIZE);
    static const char *sans[] = {"DNS:localhost", "IP:127.0.0.1", "IP:::1"};
    for (size_t i = 0; i < 3; i++) {
        ASSERT_RC(cio_stream_peer_san(c, i, buf, sizeof(buf)), strlen(sans[i]));
        cr_assert_str_eq(buf, sans[i]);
    }
    ASSERT_RC(cio_stream_peer_san(c, 3, buf, sizeof(buf)), -ENOENT);

    /* The DER bytes are the server's certificate. */
    const unsigned char *der;
    size_t len;
    ASSERT_RC(cio_stream_peer_cert_der(c, &der, &len), 0);
    FILE *f = fopen(tc_path("server.pem"), "r");
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    unsigned char *want = NULL;
    int want_len = i2d_X509(x, &want);
    cr_assert_eq(len, (size_t)want_len);
    cr_assert_eq(memcmp(der, want, len), 0);
    OPENSSL_free(want);
    X509_free(x);
}

TLS_TEST(tls, echo_reader_ops_and_info)
{
    cio_tls_ctx *cc = tc_client("ca.pem", NULL, NULL), *sc = tc_server("server", 0, NULL);
    cio_stream *c, *s;
    tls_pair(cc, sc, &c, &s);

    ASSERT_RC(cio_write(c, "hello\nworld!", 12), 0);
    ASSERT_RC(cio_write(c, "\nend", 4), 0);
    char buf[64];
    ASSERT_RC(cio_readline(s, buf, sizeof(buf)), 6);
    cr_assert_eq(memcmp(buf, "hello\n", 6), 0);
    ASSERT_RC(cio_readexactly(s, buf, 7, NULL), 7);
    cr_assert_eq(memcmp(buf, "world!\n", 7), 0);
    ASSERT_RC(cio_readuntil(s, "d", 1, buf, sizeof(buf)), 3);
    ASSERT_RC(cio_write(s, "pong\n", 5), 0);
    ASSERT_RC(cio_readline(c, buf, sizeof(buf)), 5);

    check_peer_info(c);
    cr_assert_str_eq(cio_stream_tls_server_name(s), "localhost");
    const unsigned char *der;
    size_t len;
    ASSERT_RC(cio_stream_peer_cert_der(s, &der, &len), -ENOENT); /* no client certificate */
    cr_assert(cio_stream_is_tls(c));
    cr_assert(!cio_can_write_eof(c));
    ASSERT_RC(cio_write_eof(c), -ENOTSUP);
    cr_assert_eq(c->high_water, CIO_TLS_DEFAULT_HIGH_WATER);
    cr_assert_eq(c->low_water, CIO_TLS_DEFAULT_HIGH_WATER / 4);
    ASSERT_RC(cio_start_tls(c, cc, NULL), -EINVAL); /* already TLS */

    /* Clean close: close_notify both ways, EOF (not truncation) on reads. */
    cio_close(c);
    ASSERT_RC(cio_read(s, buf, sizeof(buf)), 0);
    cr_assert(cio_at_eof(s));
    cio_close(s);
    ASSERT_RC(cio_wait_closed(c), 0);
    ASSERT_RC(cio_wait_closed(s), 0);
    tc_release(c, s, cc, sc);
    return 0;
}

TLS_TEST(tls, plain_stream_has_no_tls_info)
{
    cio_stream *a, *b;
    tc_stream_pair(&a, &b);
    const unsigned char *der;
    size_t len;
    char buf[8];
    cr_assert(!cio_stream_is_tls(a));
    cr_assert_null(cio_stream_ssl(a));
    cr_assert_null(cio_stream_tls_cipher(a));
    cr_assert_null(cio_stream_tls_version(a));
    ASSERT_RC(cio_stream_peer_cert_der(a, &der, &len), -ENOTSUP);
    ASSERT_RC(cio_stream_peer_subject(a, buf, sizeof(buf)), -ENOTSUP);
    cr_assert_str_eq(cio_tls_error_reason(a), "");

    /* A client that checks names needs one; the stream stays plain. */
    cio_tls_ctx *cc = tc_client("ca.pem", NULL, NULL);
    ASSERT_RC(cio_start_tls(a, cc, NULL), -EINVAL);
    cio_start_tls_opts o = CIO_START_TLS_OPTS_INIT;
    o.server_hostname = "localhost";
    o.handshake_timeout = -1; /* 0 is the default */
    ASSERT_RC(cio_start_tls(a, cc, &o), -EINVAL);
    o.handshake_timeout = 1;
    o.shutdown_timeout = -1;
    ASSERT_RC(cio_start_tls(a, cc, &o), -EINVAL);
    cr_assert(!cio_stream_is_tls(a));
    ASSERT_RC(cio_write(a, "x\n", 2), 0);
    ASSERT_RC(cio_readline(b, buf, sizeof(buf)), 2);
    cio_stream_release(a);
    cio_stream_release(b);
    cio_tls_ctx_free(cc);
    return 0;
}

/* ---- bulk transfer with backpressure -------------------------------------------- */

enum { BULK_TOTAL = 64 * 1024 * 1024, BULK_POOL = 512 * 1024 };

struct bulk {
    cio_stream *s;
    const unsigned char *pool;
    unsigned char md[32];
    size_t most_queued; /* largest queue seen right before a drain */
    int rc;
};

static intptr_t bulk_writer(void *arg)
{
    struct bulk *b = arg;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    uint32_t x = 2463534242u;
    for (size_t sent = 0; sent < BULK_TOTAL && !b->rc;) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        size_t len = 1 + x % (256 * 1024), off = (x >> 7) % (BULK_POOL - len);
        if (len > BULK_TOTAL - sent)
            len = BULK_TOTAL - sent;
        b->rc = cio_write(b->s, b->pool + off, len);
        EVP_DigestUpdate(md, b->pool + off, len);
        sent += len;
        size_t q = cio_write_buffer_size(b->s);
        b->most_queued = q > b->most_queued ? q : b->most_queued;
        if (!b->rc)
            b->rc = cio_drain(b->s);
        if (!b->rc && cio_write_buffer_size(b->s) > b->s->high_water)
            b->rc = -EOVERFLOW; /* drain returned above the high water mark */
    }
    EVP_DigestFinal_ex(md, b->md, NULL);
    EVP_MD_CTX_free(md);
    return 0;
}

static intptr_t bulk_reader(void *arg)
{
    struct bulk *b = arg;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    static char buf[100000];
    size_t got = 0;
    while (got < BULK_TOTAL) {
        ssize_t n = cio_read(b->s, buf, sizeof(buf));
        if (n <= 0) {
            b->rc = n ? (int)n : CIO_EINCOMPLETE;
            break;
        }
        EVP_DigestUpdate(md, buf, (size_t)n);
        got += (size_t)n;
    }
    EVP_DigestFinal_ex(md, b->md, NULL);
    EVP_MD_CTX_free(md);
    return 0;
}

TLS_TEST(tls, transfer_64mib_hashed_with_backpressure)
{
    cio_tls_ctx *cc = tc_client("ca.pem", NULL, NULL), *sc = tc_server("server", 0, NULL);
    cio_stream *c, *s;
    tls_pair(cc, sc, &c, &s);
    unsigned char *pool = malloc(BULK_POOL);
    for (size_t i = 0; i < BULK_POOL; i++)
        pool[i] = (unsigned char)(i * 2654435761u >> 13);
    struct bulk w = {.s = c, .pool = pool}, r = {.s = s};
    cio_task *tw, *tr;
    ASSERT_RC(cio_spawn(&tr, bulk_reader, &r, NULL), 0);
    ASSERT_RC(cio_spawn(&tw, bulk_writer, &w, NULL), 0);
    ASSERT_RC(cio_join(tw, NULL), 0);
    ASSERT_RC(cio_join(tr, NULL), 0);
    ASSERT_RC(w.rc, 0);
    ASSERT_RC(r.rc, 0);
    cr_assert_eq(memcmp(w.md, r.md, 32), 0, "SHA-256 differs");
    cr_assert_gt(w.most_queued, CIO_TLS_DEFAULT_HIGH_WATER, "backpressure never kicked in");
    free(pool);
    cio_close(c);
    cio_close(s);
    ASSERT_RC(cio_wait_closed(c), 0);
    tc_release(c, s, cc, sc);
    return 0;
}

/* ---- closing ------------------------------------------------------------------------ */

TLS_TEST(tls, truncation_is_not_eof)
{
    cio_tls_ctx *cc = tc_client("ca.pem", NULL, NULL), *sc = tc_server("server", 0, NULL);
    cio_stream *c, *s;
    tls_pair(cc, sc, &c, &s);
    char buf[16];
    ASSERT_RC(cio_write(s, "partial", 7), 0);
    cio_abort(s);                                /* the TCP connection ends without close_notify */
    ASSERT_RC(cio_read(c, buf, sizeof(buf)), 7); /* data first */
    ASSERT_RC(cio_read(c, buf, sizeof(buf)), CIO_ETLSTRUNCATED);
    cr_assert(has(cio_tls_error_reason(c), "close_notify"), "%s", cio_tls_error_reason(c));
    ASSERT_RC(cio_wait_closed(c), CIO_ETLSTRUNCATED);
    tc_release(c, s, cc, sc);
    return 0;
}

TLS_TEST(tls, close_is_bounded_by_the_shutdown_timeout)
{
    cio_tls_ctx *cc = tc_client("ca.pem", NULL, NULL), *sc = tc_server("server", 0, NULL);
    cio_stream *c, *s;
    int crc, src;
    tc_stream_pair(&c, &s);
    struct tc_hs srv = {.s = s, .ctx = sc, .o = CIO_START_TLS_OPTS_INIT};
    cio_task *t;
    ASSERT_RC(cio_spawn(&t, tc_hs_task, &srv, NULL), 0);
    cio_start_tls_opts o = {"localhost", 5.0, 0.3};
    crc = cio_start_tls(c, cc, &o);
    ASSERT_RC(cio_join(t, NULL), 0);
    src = srv.rc;
    ASSERT_RC(crc, 0);
    ASSERT_RC(src, 0);
    /* The server never reads, so it never answers our close_notify. */
    double t0 = cio_time();
    cio_close(c);
    ASSERT_RC(cio_wait_closed(c), -ETIMEDOUT);
    double took = cio_time() - t0;
    cr_assert(took >= 0.25 && took < 2.0, "close took %.3f s", took);
    cio_abort(s);
    tc_release(c, s, cc, sc);
    return 0;
}

/* ---- rejections, each with its own error ------------------------------------------------ */

/* Handshake with these settings and expect crc/src. */
static void expect_handshake(const char *cafile, const char *ccert, const char *scert,
                             enum cio_tls_verify_client verify, const char *name, int want_c,
                             int want_s)
{
    cio_tls_ctx *cc = tc_client(cafile, ccert, NULL), *sc = tc_server(scert, verify, NULL);
    cio_stream *c, *s;
    int crc, src;
    tc_stream_pair(&c, &s);
    tc_handshake(c, cc, name, s, sc, &crc, &src);
    ASSERT_RC(crc, want_c);
    ASSERT_RC(src, want_s);
    if (want_c)
        ASSERT_RC(cio_wait_closed(c), want_c);
    tc_release(c, s, cc, sc);
}

TLS_TEST(tls, untrusted_ca_is_a_certificate_error)
{
    expect_handshake("other_ca.pem", NULL, "server", 0, "localhost", CIO_ETLSCERT, CIO_ETLSCERT);
    const char *why = cio_tls_error_reason(NULL); /* the server's alert came last */
    cr_assert(has(why, "unknown ca"), "%s", why);
    expect_handshake("ca.pem", NULL, "rogue", 0, "localhost", CIO_ETLSCERT, CIO_ETLSCERT);
    return 0;
}

TLS_TEST(tls, untrusted_ca_reason_on_the_client)
{
    cio_tls_ctx *cc = tc_client("other_ca.pem", NULL, NULL), *sc = tc_server("server", 0, NULL);
    cio_stream *c, *s;
    int crc, src;
    tc_stream_pair(&c, &s);
    tc_handshake(c, cc, "localhost", s, sc, &crc, &src);
    ASSERT_RC(crc, CIO_ETLSCERT);
    cr_assert(has(cio_tls_error_reason(c), "unable to get local issuer certificate"), "%s",
              cio_tls_error_reason(c));
    tc_release(c, s, cc, sc);
    return 0;
}

TLS_TEST(tls, wrong_host_name)
{
    expect_handshake("ca.pem", NULL, "server", 0, "example.com", CIO_ETLSHOSTNAME, CIO_ETLSCERT);
    cr_assert(has(cio_tls_error_reason(NULL), "certificate"), "%s", cio_tls_error_reason(NULL));
    expect_handshake("ca.pem", NULL, "server", 0, "127.0.0.2", CIO_ETLSHOSTNAME, CIO_ETLSCERT);
    expect_handshake("ca.pem", NULL, "server", 0, "127.0.0.1", 0, 0);
    expect_handshake("ca.pem", NULL, "server", 0, "[::1]", 0, 0);
    return 0;
}

TLS_TEST(tls, expired_certificate)
{
    cio_tls_ctx *cc = tc_client("ca.pem", NULL, NULL), *sc = tc_server("expired", 0, NULL);
    cio_stream *c, *s;
    int crc, src;
    tc_stream_pair(&c, &s);
    tc_handshake(c, cc, "localhost", s, sc, &crc, &src);
    ASSERT_RC(crc, CIO_ETLSCERT);
    ASSERT_RC(src, CIO_ETLSCERT);
    cr_assert(has(cio_tls_error_reason(c), "certificate has expired"), "%s",
              cio_tls_error_reason(c));
    tc_release(c, s, cc, sc);
    return 0;
}

TLS_TEST(tls, mutual_tls)
{
    cio_tls_ctx *cc = tc_client("ca.pem", "client", NULL);
    cio_tls_ctx *sc = tc_server("server", CIO_TLS_VERIFY_REQUIRED, NULL);
    cio_stream *c, *s;
    tls_pair(cc, sc, &c, &s);
    char buf[128];
    ASSERT_RC(cio_stream_peer_subject(s, buf, sizeof(buf)), strlen("CN=cio client,O=cio test"));
    cr_assert_str_eq(buf, "CN=cio client,O=cio test");
    ASSERT_RC(cio_write(c, "hi\n", 3), 0);
    ASSERT_RC(cio_readline(s, buf, sizeof(buf)), 3);
    cio_abort(c);
    cio_abort(s);
    tc_release(c, s, cc, sc);
    /* A client certificate from another CA is refused by the server. */
    expect_handshake("ca.pem", "rogue", "server", CIO_TLS_VERIFY_REQUIRED, "localhost", 0,
                     CIO_ETLSCERT);
    return 0;
}

TLS_TEST(tls, client_certificate_required_but_missing)
{
    cio_tls_ctx *cc = tc_client("ca.pem", NULL, NULL);
    cio_tls_ctx *sc = tc_server("server", CIO_TLS_VERIFY_REQUIRED, NULL);
    cio_stream *c, *s;
    int crc, src;
    tc_stream_pair(&c, &s);
    tc_handshake(c, cc, "localhost", s, sc, &crc, &src);
    ASSERT_RC(src, CIO_ETLSCERT);
    cr_assert(has(cio_tls_error_reason(s), "certificate"), "%s", cio_tls_error_reason(s));
    /* In TLS 1.3 the client finishes first and learns it from the alert. */
    ASSERT_RC(crc, 0);
    char buf[8];
    ASSERT_RC(cio_read(c, buf, sizeof(buf)), CIO_ETLSCERT);
    cr_assert(has(cio_tls_error_reason(c), "certificate required"), "%s", cio_tls_error_reason(c));
    tc_release(c, s, cc, sc);
    /* Optional verification lets it through. */
    expect_handshake("ca.pem", NULL, "server", CIO_TLS_VERIFY_OPTIONAL, "localhost", 0, 0);
    return 0;
}

/* One end is a raw fd that writes `says` (if any) and never answers. */
static int raw_peer(bool tls_is_server, const char *says, double timeout, double *took)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cio_stream *s;
    ASSERT_RC(cio_stream_from_fd(&s, sv[0], NULL), 0);
    if (says)
        cr_assert_eq(write(sv[1], says, strlen(says)), (ssize_t)strlen(says));
    cio_tls_ctx *ctx = tls_is_server ? tc_server("server", 0, NULL) : tc_client("ca.pem", 0, 0);
    cio_start_tls_opts o = {"localhost", timeout, 1.0};
    double t0 = cio_time();
    int rc = cio_start_tls(s, ctx, &o);
    *took = cio_time() - t0;
    close(sv[1]);
    cio_stream_release(s);
    cio_tls_ctx_free(ctx);
    return rc;
}

TLS_TEST(tls, plaintext_peers)
{
    double took;
    ASSERT_RC(raw_peer(true, "hello, plaintext here\r\n", 5, &took), CIO_ETLSNOTLS);
    ASSERT_RC(raw_peer(true, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 5, &took), CIO_ETLSNOTLS);
    ASSERT_RC(raw_peer(false, "HTTP/1.1 400 Bad Request\r\n\r\n", 5, &took), CIO_ETLSNOTLS);
    ASSERT_RC(raw_peer(false, "220 smtp.example.com ESMTP\r\n", 5, &took), CIO_ETLSNOTLS);
    return 0;
}

TLS_TEST(tls, handshake_timeout)
{
    double took;
    ASSERT_RC(raw_peer(false, NULL, 0.3, &took), CIO_ETLSHANDSHAKE_TIMEOUT);
    cr_assert(took >= 0.28 && took < 2.0, "took %.3f s", took);
    ASSERT_RC(raw_peer(true, NULL, 0.3, &took), CIO_ETLSHANDSHAKE_TIMEOUT);
    cr_assert(has(cio_tls_error_reason(NULL), "timed out"), "%s", cio_tls_error_reason(NULL));
    /* An enclosing scope that expires first stays -ETIMEDOUT. */
    cio_timeout scope;
    cio_timeout_enter(&scope, 0.1);
    ASSERT_RC(raw_peer(false, NULL, 5, &took), -ETIMEDOUT);
    cr_assert(cio_timeout_exit(&scope));
    return 0;
}

/* ---- ALPN and SNI ---------------------------------------------------------------------- */

static void expect_alpn(const char *client, const char *server, const char *want)
{
    cio_tls_ctx *cc = tc_client("ca.pem", NULL, client), *sc = tc_server("server", 0, server);
    cio_stream *c, *s;
    tls_pair(cc, sc, &c, &s);
    if (want) {
        cr_assert_str_eq(cio_stream_tls_alpn(c), want);
        cr_assert_str_eq(cio_stream_tls_alpn(s), want);
    } else {
        cr_assert_null(cio_stream_tls_alpn(c));
        cr_assert_null(cio_stream_tls_alpn(s));
    }
    cio_abort(c);
    cio_abort(s);
    tc_release(c, s, cc, sc);
}

TLS_TEST(tls, alpn)
{
    expect_alpn("h2,http/1.1", "http/1.1,h2", "http/1.1"); /* the server's preference */
    expect_alpn("h2,http/1.1", "h2", "h2");
    expect_alpn("h2", "http/1.1", NULL); /* nothing in common: no ALPN, no failure */
    expect_alpn("h2", NULL, NULL);
    expect_alpn(NULL, "h2", NULL);
    return 0;
}

struct sni_seen {
    char name[64];
    int calls;
    cio_tls_ctx *alt;
};

static int pick_cert(void *arg, const char *name, cio_tls_ctx **use)
{
    struct sni_seen *seen = arg;
    seen->calls++;
    snprintf(seen->name, sizeof(seen->name), "%s", name ? name : "(none)");
    if (name && !strcmp(name, "refused.test"))
        return -1;
    if (name && !strcmp(name, "alt.test"))
        *use = seen->alt;
    return 0;
}

TLS_TEST(tls, sni_selects_the_certificate)
{
    struct sni_seen seen = {.alt = tc_server("alt", 0, NULL)};
    cio_tls_server_opts so = CIO_TLS_SERVER_OPTS_INIT;
    so.certfile = tc_path("server.pem");
    so.keyfile = tc_path("server.key");
    so.sni = pick_cert;
    so.sni_arg = &seen;
    cio_tls_ctx *sc, *cc = tc_client("ca.pem", NULL, NULL);
    ASSERT_RC(cio_tls_server_ctx(&sc, &so), 0);
    /* The last round forces a HelloRetryRequest (the client's first key
     * share is X25519), which runs the hook a second time. */
    const char *names[] = {"alt.test", "localhost", "refused.test", "alt.test"};
    const char *subjects[] = {"CN=alt.test,O=cio test", "CN=localhost,O=cio test", NULL,
                              "CN=alt.test,O=cio test"};
    for (int i = 0; i < 4; i++) {
        if (i == 3)
            cr_assert(SSL_CTX_set1_groups_list(cio_tls_ctx_native(sc), "P-256"));
        cio_stream *c, *s;
        int crc, src;
        tc_stream_pair(&c, &s);
        tc_handshake(c, cc, names[i], s, sc, &crc, &src);
        cr_assert_str_eq(seen.name, names[i]);
        cr_assert_geq(seen.calls, i + 1);
        if (subjects[i]) {
            char buf[64];
            ASSERT_RC(crc, 0);
            ASSERT_RC(src, 0);
            cr_assert_str_eq(cio_stream_tls_server_name(s), names[i]);
            ASSERT_RC(cio_stream_peer_subject(c, buf, sizeof(buf)), strlen(subjects[i]));
            cr_assert_str_eq(buf, subjects[i]);
        } else {
            ASSERT_RC(crc, CIO_ETLS);
            cr_assert(has(cio_tls_error_reason(c), "unrecognized name"), "%s",
                      cio_tls_error_reason(c));
            cr_assert_neq(src, 0);
        }
        cio_abort(c);
        cio_abort(s);
        cio_stream_release(c);
        cio_stream_release(s);
    }
    cr_assert_eq(seen.calls, 5, "%d hook calls: the retry should add one", seen.calls);
    cio_tls_ctx_free(seen.alt); /* the connections kept it while they lived */
    cio_tls_ctx_free(sc);
    cio_tls_ctx_free(cc);
    return 0;
}

/* ---- STARTTLS ----------------------------------------------------------------------------- */

struct starttls {
    cio_stream *s;
    cio_tls_ctx *ctx;
    bool eager; /* the client sends its ClientHello without waiting for the go-ahead */
    size_t buffered_at_upgrade;
    int rc;
};

static intptr_t starttls_server(void *arg)
{
    struct starttls *st = arg;
    char line[64];
    if (st->eager) {
        /* Wait (bounded) until the ClientHello is behind the command in
         * the socket, so that readline buffers it. */
        int avail = 0;
        for (int i = 0; i < 1000 && avail <= 9; i++) {
            cr_assert_eq(ioctl(cio_stream_fd(st->s), FIONREAD, &avail), 0);
            if (avail <= 9)
                cio_yield();
        }
    }
    ASSERT_RC(cio_readline(st->s, line, sizeof(line)), 9);
    cr_assert_eq(memcmp(line, "STARTTLS\n", 9), 0);
    if (!st->eager)
        ASSERT_RC(cio_write(st->s, "GO\n", 3), 0);
    st->buffered_at_upgrade = cio_stream_buffered(st->s);
    st->rc = cio_start_tls(st->s, st->ctx, NULL);
    if (st->rc)
        return 0;
    ssize_t n = cio_readline(st->s, line, sizeof(line));
    if (n > 0)
        st->rc = cio_write(st->s, line, (size_t)n);
    return 0;
}

static void starttls_run(bool eager)
{
    cio_tls_ctx *cc = tc_client("ca.pem", NULL, NULL), *sc = tc_server("server", 0, NULL);
    cio_stream *c, *s;
    tc_stream_pair(&c, &s);
    struct starttls st = {.s = s, .ctx = sc, .eager = eager};
    cio_task *t;
    ASSERT_RC(cio_write(c, "STARTTLS\n", 9), 0);
    ASSERT_RC(cio_spawn(&t, starttls_server, &st, NULL), 0);
    char line[64];
    if (!eager) {
        ASSERT_RC(cio_readline(c, line, sizeof(line)), 3);
        cr_assert_eq(memcmp(line, "GO\n", 3), 0);
    }
    cio_start_tls_opts o = CIO_START_TLS_OPTS_INIT;
    o.server_hostname = "localhost";
    ASSERT_RC(cio_start_tls(c, cc, &o), 0);
    ASSERT_RC(cio_write(c, "secret\n", 7), 0);
    ASSERT_RC(cio_readline(c, line, sizeof(line)), 7);
    cr_assert_eq(memcmp(line, "secret\n", 7), 0);
    ASSERT_RC(cio_join(t, NULL), 0);
    ASSERT_RC(st.rc, 0);
    if (eager)
        cr_assert_gt(st.buffered_at_upgrade, 0, "the ClientHello was not buffered");
    else
        cr_assert_eq(st.buffered_at_upgrade, 0);
    cio_close(c);
    cio_close(s);
    ASSERT_RC(cio_wait_closed(c), 0);
    tc_release(c, s, cc, sc);
}

TLS_TEST(tls, starttls_after_a_plaintext_exchange)
{
    starttls_run(false);
    return 0;
}

TLS_TEST(tls, starttls_keeps_buffered_tls_bytes)
{
    starttls_run(true);
    return 0;
}
