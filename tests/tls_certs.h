/* Throwaway certificates for the TLS tests, made at test time with the
 * OpenSSL API (EC P-256 keys, X509 builder) in a fresh temporary
 * directory that the test removes again.  No key is ever committed.
 *
 *   ca        the test CA that clients trust
 *   server    CN=localhost, SAN DNS:localhost IP:127.0.0.1 IP:::1 (by ca)
 *   alt       CN=alt.test, SAN DNS:alt.test (by ca): the SNI alternative
 *   client    CN=cio client (by ca), for mutual TLS
 *   expired   like server, but expired yesterday (by ca)
 *   other_ca  an unrelated CA; rogue = CN=localhost by other_ca
 *
 * Each name has NAME.pem (certificate) and NAME.key (private key).  The
 * end of the file is the small harness the TLS test files share. */
#ifndef CIO_TEST_TLS_CERTS_H
#define CIO_TEST_TLS_CERTS_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cio.h"

static char tc_dir[64];

/* The path of a file in the certificate directory ("ca.pem"); static
 * rotating buffers so a few can be used in one expression. */
static inline const char *tc_path(const char *file)
{
    static char bufs[8][384];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof(bufs[0]), "%s/%s", tc_dir, file);
    return b;
}

static inline void tc_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    cr_assert_not_null(ext, "extension %d=%s", nid, value);
    cr_assert(X509_add_ext(x, ext, -1));
    X509_EXTENSION_free(ext);
}

/* A certificate for key, signed by issuer (NULL: self-signed), valid from
 * `from` to `to` seconds relative to now. */
static inline X509 *tc_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                            bool ca, const char *san, long from, long to)
{
    static long serial = 1000;
    X509 *x = X509_new();
    cr_assert_not_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++ + (long)getpid() * 100);
    X509_gmtime_adj(X509_getm_notBefore(x), from);
    X509_gmtime_adj(X509_getm_notAfter(x), to);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"cio test", -1, -1,
                               0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    tc_ext(x, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    tc_ext(x, &ctx, NID_key_usage,
           ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
    if (!ca)
        tc_ext(x, &ctx, NID_ext_key_usage, "serverAuth,clientAuth");
    tc_ext(x, &ctx, NID_subject_key_identifier, "hash");
    tc_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
    if (san)
        tc_ext(x, &ctx, NID_subject_alt_name, san);
    cr_assert(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()));
    return x;
}

static inline void tc_write(const char *name, X509 *x, EVP_PKEY *key)
{
    char file[64];
    snprintf(file, sizeof(file), "%s.pem", name);
    FILE *f = fopen(tc_path(file), "w");
    cr_assert_not_null(f);
    cr_assert(PEM_write_X509(f, x));
    fclose(f);
    snprintf(file, sizeof(file), "%s.key", name);
    f = fopen(tc_path(file), "w");
    cr_assert_not_null(f);
    cr_assert(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL));
    fclose(f);
}

static inline EVP_PKEY *tc_key(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    cr_assert_not_null(k);
    return k;
}

/* Make a leaf by issuer, write it, free it. */
static inline void tc_leaf(const char *name, const char *cn, const char *san, X509 *issuer,
                           EVP_PKEY *issuer_key, long from, long to)
{
    EVP_PKEY *k = tc_key();
    X509 *x = tc_cert(k, cn, issuer, issuer_key, false, san, from, to);
    tc_write(name, x, k);
    X509_free(x);
    EVP_PKEY_free(k);
}

/* Criterion .init: make the directory and every certificate. */
static inline void tc_setup(void)
{
    const long day = 24 * 3600;
    snprintf(tc_dir, sizeof(tc_dir), "/tmp/cio-tls-XXXXXX");
    cr_assert_not_null(mkdtemp(tc_dir));
    EVP_PKEY *ca_key = tc_key(), *other_key = tc_key();
    X509 *ca = tc_cert(ca_key, "cio test CA", NULL, NULL, true, NULL, -day, 30 * day);
    X509 *other = tc_cert(other_key, "unrelated CA", NULL, NULL, true, NULL, -day, 30 * day);
    tc_write("ca", ca, ca_key);
    tc_write("other_ca", other, other_key);
    const char *local_san = "DNS:localhost,IP:127.0.0.1,IP:::1";
    tc_leaf("server", "localhost", local_san, ca, ca_key, -day, 30 * day);
    tc_leaf("alt", "alt.test", "DNS:alt.test", ca, ca_key, -day, 30 * day);
    tc_leaf("client", "cio client", NULL, ca, ca_key, -day, 30 * day);
    tc_leaf("expired", "localhost", local_san, ca, ca_key, -3 * day, -day);
    tc_leaf("rogue", "localhost", local_san, other, other_key, -day, 30 * day);
    X509_free(ca);
    X509_free(other);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(other_key);
}

/* Criterion .fini: remove the directory and everything in it (tests
 * leave other files there too, e.g. the output of openssl s_client). */
static inline void tc_teardown(void)
{
    DIR *d = opendir(tc_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlink(tc_path(e->d_name));
    closedir(d);
    rmdir(tc_dir);
}

/* ---- the harness shared by the TLS tests --------------------------------------- */

/* A test whose body runs as the main task of a fresh loop, with the
 * certificates made before and removed after.  The body returns 0. */
#define TLS_TEST(suite, name, ...)                                                                 \
    static intptr_t suite##_##name##_main(void *arg_);                                             \
    Test(suite, name, .init = tc_setup, .fini = tc_teardown, ##__VA_ARGS__)                        \
    {                                                                                              \
        intptr_t rc_ = cio_run(suite##_##name##_main, NULL);                                       \
        cr_assert_eq(rc_, 0, "main task returned %ld", (long)rc_);                                 \
    }                                                                                              \
    static intptr_t suite##_##name##_main(void *arg_ __attribute__((unused)))

#define ASSERT_RC(expr, want)                                                                      \
    do {                                                                                           \
        long got_ = (long)(expr);                                                                  \
        cr_assert_eq(got_, (long)(want), "%s = %ld (%s), want %s", #expr, got_,                    \
                     cio_err_name((int)got_), cio_err_name((int)(want)));                          \
    } while (0)

/* A client context trusting cafile (a file in the cert dir; NULL: the
 * system store), with an optional client certificate NAME and ALPN. */
static inline cio_tls_ctx *tc_client(const char *cafile, const char *cert, const char *alpn)
{
    char certfile[128], keyfile[128];
    cio_tls_client_opts o = CIO_TLS_CLIENT_OPTS_INIT;
    if (cafile)
        o.cafile = tc_path(cafile);
    if (cert) {
        snprintf(certfile, sizeof(certfile), "%s/%s.pem", tc_dir, cert);
        snprintf(keyfile, sizeof(keyfile), "%s/%s.key", tc_dir, cert);
        o.certfile = certfile;
        o.keyfile = keyfile;
    }
    o.alpn = alpn;
    cio_tls_ctx *c = NULL;
    ASSERT_RC(cio_tls_client_ctx(&c, &o), 0);
    return c;
}

/* A server context with certificate NAME, client verification against
 * ca.pem when verify != NONE, and optional ALPN. */
static inline cio_tls_ctx *tc_server(const char *cert, enum cio_tls_verify_client verify,
                                     const char *alpn)
{
    char certfile[128], keyfile[128];
    snprintf(certfile, sizeof(certfile), "%s/%s.pem", tc_dir, cert);
    snprintf(keyfile, sizeof(keyfile), "%s/%s.key", tc_dir, cert);
    cio_tls_server_opts o = CIO_TLS_SERVER_OPTS_INIT;
    o.certfile = certfile;
    o.keyfile = keyfile;
    o.verify_client = verify;
    if (verify != CIO_TLS_VERIFY_NONE)
        o.client_cafile = tc_path("ca.pem");
    o.alpn = alpn;
    cio_tls_ctx *c = NULL;
    ASSERT_RC(cio_tls_server_ctx(&c, &o), 0);
    return c;
}

/* Two connected plain streams over a socketpair. */
static inline void tc_stream_pair(cio_stream **a, cio_stream **b)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ASSERT_RC(cio_stream_from_fd(a, sv[0], NULL), 0);
    ASSERT_RC(cio_stream_from_fd(b, sv[1], NULL), 0);
}

/* Release both streams and both contexts of a test. */
static inline void tc_release(cio_stream *c, cio_stream *s, cio_tls_ctx *cc, cio_tls_ctx *sc)
{
    cio_stream_release(c);
    cio_stream_release(s);
    cio_tls_ctx_free(cc);
    cio_tls_ctx_free(sc);
}

struct tc_hs {
    cio_stream *s;
    cio_tls_ctx *ctx;
    cio_start_tls_opts o;
    int rc;
};

static inline intptr_t tc_hs_task(void *arg)
{
    struct tc_hs *h = arg;
    h->rc = cio_start_tls(h->s, h->ctx, &h->o);
    return 0;
}

/* Handshake client c (verifying `name`) against server s concurrently;
 * the results in *crc and *src. */
static inline void tc_handshake(cio_stream *c, cio_tls_ctx *cctx, const char *name, cio_stream *s,
                                cio_tls_ctx *sctx, int *crc, int *src)
{
    struct tc_hs srv = {.s = s, .ctx = sctx, .o = CIO_START_TLS_OPTS_INIT};
    cio_task *t;
    ASSERT_RC(cio_spawn(&t, tc_hs_task, &srv, NULL), 0);
    cio_start_tls_opts o = CIO_START_TLS_OPTS_INIT;
    o.server_hostname = name;
    *crc = cio_start_tls(c, cctx, &o);
    ASSERT_RC(cio_join(t, NULL), 0);
    *src = srv.rc;
}

#endif
