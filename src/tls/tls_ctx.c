/* TLS contexts (asyncio's ssl.SSLContext): the client default that
 * verifies against the system CA store and checks host names, custom CA
 * files, client certificates, server certificate + key, client
 * certificate verification, ALPN both ways, SNI, protocol versions.  And
 * the bookkeeping of OpenSSL's reason strings for cio_tls_error_reason. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls/tls.h"

/* ---- error reasons -------------------------------------------------------- */

static _Thread_local char thread_reason[256];

void cio__tls_set_reason(cio__tls *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(thread_reason, sizeof(thread_reason), fmt, ap);
    va_end(ap);
    if (t)
        memcpy(t->reason, thread_reason, sizeof(t->reason));
}

const char *cio__tls_thread_reason(void)
{
    return thread_reason;
}

int cio__tls_ctx_error(void)
{
    /* OpenSSL stacks errors from the innermost call out: a missing file is
     * a system error (errno) under a few generic ones.  Prefer the errno;
     * the reason string is the outermost, most specific error. */
    int rc = CIO_ETLS;
    unsigned long e, last = 0;
    while ((e = ERR_get_error()) != 0) {
        if (ERR_SYSTEM_ERROR(e) && ERR_GET_REASON(e) > 0 && rc == CIO_ETLS)
            rc = -ERR_GET_REASON(e);
        last = e;
    }
    if (rc == CIO_ETLS && !last) {
        cio__tls_set_reason(NULL, "unknown TLS error");
        return rc;
    }
    char buf[200];
    if (rc != CIO_ETLS)
        snprintf(buf, sizeof(buf), "%s", strerror(-rc));
    else
        ERR_error_string_n(last, buf, sizeof(buf));
    cio__tls_set_reason(NULL, "%s", buf);
    return rc;
}

/* ---- building blocks ------------------------------------------------------ */

/* "h2,http/1.1" -> the ALPN wire format (length-prefixed names). */
static int alpn_wire(const char *list, unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (!list)
        return 0;
    size_t n = strlen(list);
    if (n == 0)
        return -EINVAL;
    unsigned char *w = cio__malloc(n + 1);
    if (!w)
        return -ENOMEM;
    size_t len = 0;
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t item = comma ? (size_t)(comma - p) : strlen(p);
        if (item == 0 || item > 255) {
            cio__free(w);
            return -EINVAL;
        }
        w[len++] = (unsigned char)item;
        memcpy(w + len, p, item);
        len += item;
        if (!comma)
            break;
        p = comma + 1;
    }
    *out = w;
    *out_len = len;
    return 0;
}

static int set_versions(SSL_CTX *sc, int min, int max)
{
    if (!min)
        min = CIO_TLS_VERSION_1_2;
    if (min != CIO_TLS_VERSION_1_2 && min != CIO_TLS_VERSION_1_3)
        return -EINVAL;
    if (max && ((max != CIO_TLS_VERSION_1_2 && max != CIO_TLS_VERSION_1_3) || max < min))
        return -EINVAL;
    if (!SSL_CTX_set_min_proto_version(sc, min) || !SSL_CTX_set_max_proto_version(sc, max))
        return cio__tls_ctx_error();
    return 0;
}

/* Mozilla's "intermediate" profile (ssl-config.mozilla.org, v5.7),
 * without its DHE suites: for TLS 1.2 only ECDHE key exchange with AEAD
 * ciphers (no CBC, so no LUCKY13-class padding oracles, no static RSA);
 * TLS 1.3's suites are all AEAD and stay at OpenSSL's default.  The
 * groups are the profile's.  docs/tls.md shows how to widen the list
 * through cio_tls_ctx_native for peers that need more. */
#define CIO__TLS12_CIPHERS                                                                         \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define CIO__TLS_GROUPS "X25519:P-256:P-384"

static int set_intermediate(SSL_CTX *sc)
{
    if (!SSL_CTX_set_cipher_list(sc, CIO__TLS12_CIPHERS) ||
        !SSL_CTX_set1_groups_list(sc, CIO__TLS_GROUPS))
        return cio__tls_ctx_error();
    return 0;
}

static int load_cert_key(SSL_CTX *sc, const char *certfile, const char *keyfile)
{
    if (SSL_CTX_use_certificate_chain_file(sc, certfile) != 1 ||
        SSL_CTX_use_PrivateKey_file(sc, keyfile ? keyfile : certfile, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(sc) != 1)
        return cio__tls_ctx_error();
    return 0;
}

static int ctx_new(cio_tls_ctx **out, bool server, int min, int max)
{
    cio_tls_ctx *c = cio__calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->ssl_ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!c->ssl_ctx) {
        cio__free(c);
        ERR_clear_error();
        return -ENOMEM;
    }
    atomic_init(&c->refs, 1);
    c->server = server;
    /* Renegotiation would make reads write and writes read; nobody
     * needs it since TLS 1.3. */
    SSL_CTX_set_options(c->ssl_ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                        (server ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
    /* Partial writes let a write fill the BIO pair, move the records
     * out, and go on; the buffer address may change between retries. */
    SSL_CTX_set_mode(c->ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                     SSL_MODE_RELEASE_BUFFERS);
    int rc = set_versions(c->ssl_ctx, min, max);
    if (rc == 0)
        rc = set_intermediate(c->ssl_ctx);
    if (rc) {
        cio_tls_ctx_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* ---- client ---------------------------------------------------------------- */

int cio_tls_client_ctx(cio_tls_ctx **out, const cio_tls_client_opts *opts)
{
    static const cio_tls_client_opts defaults = CIO_TLS_CLIENT_OPTS_INIT;
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!opts)
        opts = &defaults;
    if (opts->keyfile && !opts->certfile)
        return -EINVAL;
    unsigned char *alpn;
    size_t alpn_len;
    int rc = alpn_wire(opts->alpn, &alpn, &alpn_len);
    if (rc)
        return rc;
    cio_tls_ctx *c;
    rc = ctx_new(&c, false, opts->min_version, opts->max_version);
    if (rc)
        goto out_free_alpn;
    SSL_CTX *sc = c->ssl_ctx;
    if (opts->no_verify) {
        SSL_CTX_set_verify(sc, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_CTX_set_verify(sc, SSL_VERIFY_PEER, NULL);
        c->check_hostname = !opts->no_check_hostname;
        /* As CPython's default context: "*.example.com" only, no "w*". */
        X509_VERIFY_PARAM_set_hostflags(SSL_CTX_get0_param(sc),
                                        X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        int ok = opts->cafile || opts->capath
                     ? SSL_CTX_load_verify_locations(sc, opts->cafile, opts->capath)
                     : SSL_CTX_set_default_verify_paths(sc);
        if (ok != 1) {
            rc = cio__tls_ctx_error();
            goto out_free_ctx;
        }
    }
    if (opts->certfile) {
        rc = load_cert_key(sc, opts->certfile, opts->keyfile);
        if (rc)
            goto out_free_ctx;
    }
    if (alpn && SSL_CTX_set_alpn_protos(sc, alpn, (unsigned)alpn_len) != 0) {
        rc = -ENOMEM; /* the only way it fails with a well-formed list */
        ERR_clear_error();
        goto out_free_ctx;
    }
    cio__free(alpn);
    *out = c;
    return 0;
out_free_ctx:
    cio_tls_ctx_free(c);
out_free_alpn:
    cio__free(alpn);
    return rc;
}

/* ---- server ----------------------------------------------------------------- */

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    cio_tls_ctx *c = arg;
    unsigned char *chosen;
    /* Our list first: the server's preference wins.  No common protocol
     * means no ALPN, not a failed handshake (as in CPython). */
    if (SSL_select_next_proto(&chosen, outlen, c->alpn, (unsigned)c->alpn_len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

static int servername_cb(SSL *ssl, int *alert, void *arg)
{
    cio_tls_ctx *c = arg;
    cio__tls *t = SSL_get_app_data(ssl);
    cio_tls_ctx *use = NULL;
    if (c->sni(c->sni_arg, SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name), &use) < 0) {
        *alert = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    /* Called again after a HelloRetryRequest: the same choice is kept. */
    if (!use || use == c || (t && use == t->sni_ctx))
        return SSL_TLSEXT_ERR_OK;
    if (!use->server || !t || !SSL_set_SSL_CTX(ssl, use->ssl_ctx)) {
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    /* The connection keeps the chosen context (its certificate and ALPN
     * list) alive for as long as it lives. */
    cio_tls_ctx_retain(use);
    cio_tls_ctx_free(t->sni_ctx);
    t->sni_ctx = use;
    return SSL_TLSEXT_ERR_OK;
}

int cio_tls_server_ctx(cio_tls_ctx **out, const cio_tls_server_opts *opts)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!opts || !opts->certfile)
        return -EINVAL;
    bool have_cas = opts->client_cafile || opts->client_capath;
    if (opts->verify_client > CIO_TLS_VERIFY_REQUIRED ||
        (opts->verify_client != CIO_TLS_VERIFY_NONE && !have_cas) ||
        opts->num_tickets < CIO_TLS_NO_TICKETS)
        return -EINVAL;
    cio_tls_ctx *c;
    int rc = ctx_new(&c, true, opts->min_version, opts->max_version);
    if (rc)
        return rc;
    SSL_CTX *sc = c->ssl_ctx;
    rc = alpn_wire(opts->alpn, &c->alpn, &c->alpn_len);
    if (rc)
        goto out_free_ctx;
    rc = load_cert_key(sc, opts->certfile, opts->keyfile);
    if (rc)
        goto out_free_ctx;
    if (have_cas) {
        if (SSL_CTX_load_verify_locations(sc, opts->client_cafile, opts->client_capath) != 1) {
            rc = cio__tls_ctx_error();
            goto out_free_ctx;
        }
        /* Tell clients which CAs we accept, so they pick the right cert. */
        if (opts->client_cafile) {
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(opts->client_cafile);
            if (names)
                SSL_CTX_set_client_CA_list(sc, names);
            ERR_clear_error();
        }
    }
    int mode = SSL_VERIFY_NONE;
    if (opts->verify_client == CIO_TLS_VERIFY_OPTIONAL)
        mode = SSL_VERIFY_PEER;
    else if (opts->verify_client == CIO_TLS_VERIFY_REQUIRED)
        mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(sc, mode, NULL);
    size_t tickets = opts->num_tickets == CIO_TLS_NO_TICKETS ? 0
                     : opts->num_tickets == 0                ? 1
                                                             : (size_t)opts->num_tickets;
    SSL_CTX_set_num_tickets(sc, tickets);
    /* Resumed sessions with client verification need a context id. */
    SSL_CTX_set_session_id_context(sc, (const unsigned char *)"cio", 3);
    if (c->alpn)
        SSL_CTX_set_alpn_select_cb(sc, alpn_select, c);
    if (opts->sni) {
        c->sni = opts->sni;
        c->sni_arg = opts->sni_arg;
        SSL_CTX_set_tlsext_servername_callback(sc, servername_cb);
        SSL_CTX_set_tlsext_servername_arg(sc, c);
    }
    *out = c;
    return 0;
out_free_ctx:
    cio_tls_ctx_free(c);
    return rc;
}

/* ---- lifetime ---------------------------------------------------------------- */

void cio_tls_ctx_retain(cio_tls_ctx *ctx)
{
    atomic_fetch_add_explicit(&ctx->refs, 1, memory_order_relaxed);
}

void cio_tls_ctx_free(cio_tls_ctx *ctx)
{
    if (!ctx || atomic_fetch_sub_explicit(&ctx->refs, 1, memory_order_acq_rel) != 1)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    cio__free(ctx->alpn);
    cio__free(ctx);
}

bool cio_tls_ctx_is_server(const cio_tls_ctx *ctx)
{
    return ctx->server;
}

void *cio_tls_ctx_native(cio_tls_ctx *ctx)
{
    return ctx->ssl_ctx;
}
