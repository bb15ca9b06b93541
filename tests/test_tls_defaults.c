/* cio's TLS defaults follow Mozilla's "intermediate" profile (src/tls/tls_ctx.c,
 * docs/tls.md): TLS 1.2 and 1.3 only, TLS 1.2 with ECDHE key exchange and
 * AEAD ciphers only; and the documented way to widen them
 * (cio_tls_ctx_native + SSL_CTX_set_cipher_list) works.
 * tests/testssl/run.sh checks the same from outside with testssl.sh. */
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "tls_certs.h"

TestSuite(tls_defaults, .timeout = 60);

static cio_tls_ctx *server_ctx(void)
{
    cio_tls_server_opts o = CIO_TLS_SERVER_OPTS_INIT;
    o.certfile = tc_path("server.pem");
    o.keyfile = tc_path("server.key");
    cio_tls_ctx *c = NULL;
    ASSERT_RC(cio_tls_server_ctx(&c, &o), 0);
    return c;
}

/* A client that verifies nothing; with tls12_ciphers, limited to TLS 1.2
 * and that OpenSSL cipher list. */
static cio_tls_ctx *client_ctx(const char *tls12_ciphers)
{
    cio_tls_client_opts o = CIO_TLS_CLIENT_OPTS_INIT;
    o.no_verify = true;
    o.max_version = tls12_ciphers ? CIO_TLS_VERSION_1_2 : 0;
    cio_tls_ctx *c = NULL;
    ASSERT_RC(cio_tls_client_ctx(&c, &o), 0);
    if (tls12_ciphers)
        cr_assert(SSL_CTX_set_cipher_list(cio_tls_ctx_native(c), tls12_ciphers));
    return c;
}

/* Every suite a context offers is TLS 1.3, or TLS 1.2 ECDHE + AEAD. */
static void check_intermediate(cio_tls_ctx *c)
{
    SSL_CTX *sc = cio_tls_ctx_native(c);
    cr_assert_eq(SSL_CTX_get_min_proto_version(sc), TLS1_2_VERSION);
    STACK_OF(SSL_CIPHER) *list = SSL_CTX_get_ciphers(sc);
    int n = sk_SSL_CIPHER_num(list), tls12 = 0;
    for (int i = 0; i < n; i++) {
        const SSL_CIPHER *ci = sk_SSL_CIPHER_value(list, i);
        if (strcmp(SSL_CIPHER_get_version(ci), "TLSv1.3") == 0)
            continue;
        tls12++;
        cr_expect(SSL_CIPHER_is_aead(ci), "%s is not AEAD", SSL_CIPHER_get_name(ci));
        cr_expect_eq(SSL_CIPHER_get_kx_nid(ci), NID_kx_ecdhe, "%s is not ECDHE",
                     SSL_CIPHER_get_name(ci));
    }
    cr_assert_eq(tls12, 6, "TLS 1.2 suites: %d", tls12);
}

TLS_TEST(tls_defaults, contexts_offer_only_ecdhe_aead)
{
    cio_tls_ctx *s = server_ctx(), *c = client_ctx(NULL);
    check_intermediate(s);
    check_intermediate(c);
    cio_tls_ctx_free(s);
    cio_tls_ctx_free(c);
    return 0;
}

struct side {
    cio_stream *s;
    cio_tls_ctx *ctx;
};

static intptr_t handshake(void *arg)
{
    struct side *d = arg;
    return cio_start_tls(d->s, d->ctx, NULL);
}

/* Handshake server against client over a socketpair; the two results. */
static void pair_handshake(cio_tls_ctx *server, cio_tls_ctx *client, intptr_t *rs, intptr_t *rc)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    struct side a = {.ctx = server}, b = {.ctx = client};
    ASSERT_RC(cio_stream_from_fd(&a.s, sv[0], NULL), 0);
    ASSERT_RC(cio_stream_from_fd(&b.s, sv[1], NULL), 0);
    cio_task *ta, *tb;
    ASSERT_RC(cio_spawn(&ta, handshake, &a, NULL), 0);
    ASSERT_RC(cio_spawn(&tb, handshake, &b, NULL), 0);
    ASSERT_RC(cio_join(ta, rs), 0);
    ASSERT_RC(cio_join(tb, rc), 0);
    cio_stream_release(a.s);
    cio_stream_release(b.s);
}

TLS_TEST(tls_defaults, server_refuses_a_cbc_only_client)
{
    cio_tls_ctx *s = server_ctx(), *c = client_ctx("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA");
    intptr_t rs, rc;
    pair_handshake(s, c, &rs, &rc);
    ASSERT_RC(rs, CIO_ETLS);
    ASSERT_RC(rc, CIO_ETLS);
    cio_tls_ctx_free(s);
    cio_tls_ctx_free(c);
    return 0;
}

TLS_TEST(tls_defaults, widened_server_accepts_a_cbc_client)
{
    /* The documented escape hatch, for peers that need CBC suites. */
    cio_tls_ctx *s = server_ctx(), *c = client_ctx("ECDHE-ECDSA-AES128-SHA");
    cr_assert(SSL_CTX_set_cipher_list(cio_tls_ctx_native(s),
                                      "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-SHA"));
    intptr_t rs, rc;
    pair_handshake(s, c, &rs, &rc);
    ASSERT_RC(rs, 0);
    ASSERT_RC(rc, 0);
    cio_tls_ctx_free(s);
    cio_tls_ctx_free(c);
    return 0;
}

TLS_TEST(tls_defaults, default_contexts_handshake)
{
    cio_tls_ctx *s = server_ctx(), *c = client_ctx(NULL);
    intptr_t rs, rc;
    pair_handshake(s, c, &rs, &rc);
    ASSERT_RC(rs, 0);
    ASSERT_RC(rc, 0);
    cio_tls_ctx_free(s);
    cio_tls_ctx_free(c);
    return 0;
}
