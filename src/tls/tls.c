/* The TLS transport: OpenSSL over a BIO pair, stacked on a lower
 * transport (transport.h).  It never knows what sits above it: the
 * stream layer (stream_tls.c) drives the handshake and uses it like any
 * other transport.
 *
 * Ciphertext moves between the BIO pair and the lower transport with its
 * read and write operations: incoming bytes are read straight into the
 * BIO's buffer (BIO_nwrite0), outgoing records are written straight from
 * it (BIO_nread0).  Records the lower transport does not take stay in the
 * BIO (`pending`), and the consumer calls write again when the endpoint
 * is writable.  So nothing here waits: a read returns -EAGAIN only after
 * the lower transport said EAGAIN. */
#include <arpa/inet.h>
#include <stdio.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls/tls.h"

enum {
    BIO_IN = 64 * 1024,        /* peer ciphertext not yet decrypted: > one record */
    BIO_OUT = 64 * 1024,       /* our records, moved out right after each SSL call */
    MAX_PLAINTEXT = 16 * 1024, /* one record: what one SSL_write_ex call takes */
    /* Application data a closing stream drops while it waits for the
     * peer's close_notify, per readiness event. */
    CLOSE_READ_BUDGET = 4 * 1024 * 1024,
};

static const cio__transport_ops tls_ops;

/* SSL_get_error reads the thread's error queue, so it must be empty
 * before each SSL call.  It almost always is; peeking is one load where
 * ERR_clear_error walks every slot (~1% of the data path). */
static inline void clear_errors(void)
{
    if (ERR_peek_error())
        ERR_clear_error();
}

cio__tls *cio__tls_from(const cio__transport *tp)
{
    return tp && tp->ops == &tls_ops ? cio__container_of(tp, cio__tls, tp) : NULL;
}

static inline cio__tls *tls_of(cio__transport *tp)
{
    return cio__container_of(tp, cio__tls, tp);
}

/* ---- moving ciphertext ------------------------------------------------------ */

/* Hand every record SSL has produced to the lower transport: 0 when the
 * BIO is empty, -EAGAIN when the lower transport is full (the rest stays
 * in the BIO), or its error. */
static int push_out(cio__tls *t)
{
    char *p;
    int avail;
    while ((avail = BIO_nread0(t->net, &p)) > 0) {
        struct iovec iov = {.iov_base = p, .iov_len = (size_t)avail};
        ssize_t n = t->lower->ops->write(t->lower, &iov, 1);
        if (n < 0)
            return (int)n;
        BIO_nread(t->net, &p, (int)n);
        if (n < avail)
            return -EAGAIN;
    }
    return 0;
}

/* Feed SSL more ciphertext: first what the reader had buffered before
 * the upgrade, then the lower transport.  > 0 bytes, 0 at EOF, -EAGAIN
 * (the lower transport said so), or an error. */
static ssize_t pull_in(cio__tls *t)
{
    char *p;
    int room = BIO_nwrite0(t->net, &p);
    if (room <= 0) {
        /* SSL asked for more while holding a full buffer: not TLS. */
        cio__tls_set_reason(t, "TLS record larger than the input buffer");
        return CIO_ETLS;
    }
    size_t pre = cio__buf_len(&t->pre);
    if (pre) {
        size_t n = pre < (size_t)room ? pre : (size_t)room;
        memcpy(p, cio__buf_head(&t->pre), n);
        cio__buf_consume(&t->pre, n);
        BIO_nwrite(t->net, &p, (int)n);
        return (ssize_t)n;
    }
    if (t->tcp_eof)
        return 0;
    ssize_t n = t->lower->ops->read(t->lower, p, (size_t)room);
    if (n > 0)
        BIO_nwrite(t->net, &p, (int)n);
    else if (n == 0)
        t->tcp_eof = true;
    return n;
}

/* ---- errors ----------------------------------------------------------------- */

/* Alerts by which the peer rejected our certificate (or its absence). */
static bool is_cert_reason(int reason)
{
    switch (reason) {
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
        return true;
    default:
        return false;
    }
}

/* What OpenSSL says when the first bytes from the peer are no TLS record. */
static bool is_plaintext_reason(int reason)
{
    return reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_HTTP_REQUEST ||
           reason == SSL_R_HTTPS_PROXY_REQUEST || reason == SSL_R_PACKET_LENGTH_TOO_LONG;
}

/* Map a failed SSL call to a cio code, record OpenSSL's reason, clear
 * the error queue. */
static int tls_error(cio__tls *t, int sslerr)
{
    unsigned long e = ERR_peek_error();
    int reason = ERR_GET_LIB(e) == ERR_LIB_SSL ? ERR_GET_REASON(e) : 0;
    int rc = CIO_ETLS;
    if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED) {
        long v = SSL_get_verify_result(t->ssl);
        bool name = v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH;
        rc = name ? CIO_ETLSHOSTNAME : CIO_ETLSCERT;
        cio__tls_set_reason(t, "certificate verify failed: %s", X509_verify_cert_error_string(v));
        clear_errors();
        return rc;
    }
    if (is_cert_reason(reason))
        rc = CIO_ETLSCERT;
    else if (!t->established && is_plaintext_reason(reason))
        rc = CIO_ETLSNOTLS;
    const char *why = e ? ERR_reason_error_string(e) : NULL;
    if (why)
        cio__tls_set_reason(t, "%s", why);
    else if (e)
        cio__tls_set_reason(t, "OpenSSL error %#lx", e);
    else
        cio__tls_set_reason(t, "TLS failure (SSL error %d)", sslerr);
    clear_errors();
    return rc;
}

static int truncated(cio__tls *t)
{
    cio__tls_set_reason(t, "TLS connection closed without close_notify");
    return CIO_ETLSTRUNCATED;
}

/* ---- the transport ------------------------------------------------------------ */

/* Decrypt into buf, pulling ciphertext from the lower transport as SSL
 * asks for it, until buf is full or the lower transport has nothing more. */
static ssize_t tls_read(cio__transport *tp, void *buf, size_t len)
{
    cio__tls *t = tls_of(tp);
    if (!t->established)
        return -EAGAIN; /* the handshake owns the connection */
    if (t->rd_error)
        return t->rd_error;
    size_t got = 0;
    for (;;) {
        size_t n = 0;
        clear_errors();
        int r = SSL_read_ex(t->ssl, (char *)buf + got, len - got, &n);
        int err = r ? SSL_ERROR_NONE : SSL_get_error(t->ssl, r);
        /* Reading can produce records too (alerts, key update replies);
         * what the lower transport cannot take now goes on writable. */
        int prc = push_out(t);
        if (prc == -EAGAIN)
            prc = 0;
        if (r) {
            got += n;
            if (got == len)
                return (ssize_t)got;
            continue;
        }
        if (err == SSL_ERROR_ZERO_RETURN) /* close_notify: a clean EOF */
            return (ssize_t)got;
        ssize_t rc;
        if (err == SSL_ERROR_WANT_WRITE) {
            rc = prc ? prc : -EAGAIN;
        } else if (err == SSL_ERROR_WANT_READ) {
            rc = pull_in(t);
            if (rc > 0)
                continue;
            if (rc == 0 && !(SSL_get_shutdown(t->ssl) & SSL_RECEIVED_SHUTDOWN))
                rc = got ? 0 : truncated(t); /* reported by the next call */
        } else {
            rc = tls_error(t, err);
        }
        if (!got)
            return rc;
        if (rc != -EAGAIN && rc != 0)
            t->rd_error = (int)rc; /* hand over the data first */
        return (ssize_t)got;
    }
}

static bool tls_read_idle(const cio__transport *tp)
{
    const cio__tls *t = cio__container_of(tp, cio__tls, tp);
    return t->established && !t->rd_error && !t->tcp_eof && !cio__buf_len(&t->pre) &&
           !SSL_has_pending(t->ssl) && !BIO_pending(SSL_get_rbio(t->ssl)) &&
           t->lower->ops->read_idle(t->lower);
}

/* Encrypt one record's worth of plaintext: 1 when SSL took it, 0 when the
 * BIO is full (SSL keeps the record and wants the same bytes again), or
 * an error. */
static int encrypt(cio__tls *t, const char *p, size_t len, size_t *taken)
{
    clear_errors();
    int r = SSL_write_ex(t->ssl, p, len, taken);
    if (r)
        return 1;
    int err = SSL_get_error(t->ssl, r);
    return err == SSL_ERROR_WANT_WRITE ? 0 : tls_error(t, err);
}

/* Retry the record SSL kept when the BIO was full: 0 when it went into
 * the BIO, -EAGAIN while the BIO is still full, or an error. */
static int retry_kept_record(cio__tls *t)
{
    while (t->retry_len) {
        size_t w = 0;
        int rc = encrypt(t, t->retry, t->retry_len, &w);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            rc = push_out(t);
            if (rc)
                return rc;
            continue;
        }
        cio__free(t->retry);
        t->retry = NULL;
        t->retry_len = 0;
    }
    return 0;
}

/* Take plaintext from iov while the BIO and the lower transport take the
 * records: the count taken, -EAGAIN when nothing could be, or an error
 * (records exist that cannot be taken back: the connection is over). */
static ssize_t tls_write(cio__transport *tp, const struct iovec *iov, int iovcnt)
{
    cio__tls *t = tls_of(tp);
    int rc = retry_kept_record(t);
    if (!rc)
        rc = push_out(t);
    if (rc)
        return rc;
    size_t taken = 0;
    for (int i = 0; i < iovcnt; i++) {
        const char *p = iov[i].iov_base;
        size_t len = iov[i].iov_len;
        while (len) {
            size_t chunk = len < MAX_PLAINTEXT ? len : MAX_PLAINTEXT, w = 0;
            rc = encrypt(t, p, chunk, &w);
            if (rc < 0)
                return rc;
            if (rc == 0) {
                /* SSL holds this record: keep its plaintext, which now
                 * counts as taken, and retry it once the BIO has room. */
                t->retry = cio__malloc(chunk);
                if (!t->retry)
                    return -ENOMEM;
                memcpy(t->retry, p, chunk);
                t->retry_len = chunk;
                w = chunk;
            }
            p += w;
            len -= w;
            taken += w;
            rc = t->retry_len ? retry_kept_record(t) : 0;
            if (!rc)
                rc = BIO_pending(t->net) >= BIO_OUT / 2 ? push_out(t) : 0;
            if (rc == -EAGAIN)
                return (ssize_t)taken;
            if (rc)
                return rc;
        }
    }
    rc = push_out(t);
    if (rc && rc != -EAGAIN)
        return rc;
    return (ssize_t)taken;
}

static size_t tls_pending(const cio__transport *tp)
{
    const cio__tls *t = cio__container_of(tp, cio__tls, tp);
    return BIO_pending(t->net) + t->retry_len;
}

/* The peer's close_notify did not come in time: poke the endpoint, whose
 * consumer then calls shutdown again and gets -ETIMEDOUT. */
static void shutdown_timed_out(cio__timer *timer)
{
    cio__tls *t = cio__container_of(timer, cio__tls, shutdown_timer);
    cio__io *io = &t->tp.ep->io;
    t->shutdown_expired = true;
    cio__tls_set_reason(t, "no close_notify from the peer within %g s", t->shutdown_timeout);
    if (io->on_ready)
        io->on_ready(io, false, false); /* may free t */
}

/* Read (and drop) until the peer's close_notify, its EOF, or an error:
 * -EAGAIN to be called again on readiness. */
static int await_close_notify(cio__tls *t)
{
    char scratch[2048];
    size_t budget = CLOSE_READ_BUDGET;
    while (!(SSL_get_shutdown(t->ssl) & SSL_RECEIVED_SHUTDOWN)) {
        size_t n = 0;
        clear_errors();
        int r = SSL_read_ex(t->ssl, scratch, sizeof(scratch), &n);
        if (r) {
            if (n >= budget)
                return -EAGAIN;
            budget -= n;
            continue;
        }
        int err = SSL_get_error(t->ssl, r);
        if (err != SSL_ERROR_WANT_READ)
            break; /* close_notify, or a protocol error: nothing to wait for */
        ssize_t got = pull_in(t);
        if (got == -EAGAIN)
            return -EAGAIN;
        if (got <= 0)
            break; /* the peer is gone: that ends the shutdown too */
    }
    clear_errors();
    return 0;
}

/* Graceful close, once everything is written: send close_notify, then
 * wait for the peer's within the shutdown timeout. */
static int tls_shutdown(cio__transport *tp)
{
    cio__tls *t = tls_of(tp);
    if (!t->established)
        return 0;
    if (t->shutdown_expired)
        return -ETIMEDOUT;
    if (!t->shutdown_sent) {
        t->shutdown_sent = true;
        if (cio__timer_start(&t->shutdown_timer, cio__deadline_after(t->shutdown_timeout),
                             shutdown_timed_out) != 0)
            return 0; /* cannot bound the wait: close at once */
        clear_errors();
        SSL_shutdown(t->ssl);
        clear_errors();
    }
    int rc = retry_kept_record(t);
    if (!rc)
        rc = push_out(t);
    if (rc == -EAGAIN)
        return -EAGAIN; /* called again once close_notify is out */
    if (rc) {
        /* A peer that has finished its side may be gone already: our
         * close_notify not reaching it does not make the close unclean. */
        bool peer_done = t->tcp_eof || (SSL_get_shutdown(t->ssl) & SSL_RECEIVED_SHUTDOWN);
        return peer_done ? 0 : rc;
    }
    return await_close_notify(t);
}

static void state_free(cio__tls *t)
{
    cio__timer_stop(&t->shutdown_timer);
    SSL_free(t->ssl); /* and its end of the pair */
    BIO_free(t->net);
    cio_tls_ctx_free(t->ctx);
    cio_tls_ctx_free(t->sni_ctx);
    cio__buf_free(&t->pre);
    cio__free(t->retry);
    OPENSSL_free(t->der);
    cio__free(t);
}

static void tls_destroy(cio__transport *tp)
{
    state_free(tls_of(tp));
}

static const cio__transport_ops tls_ops = {
    .name = "tls",
    .read = tls_read,
    .read_idle = tls_read_idle,
    .write = tls_write,
    .pending = tls_pending,
    .write_eof = NULL, /* TLS has no half-close: cio_write_eof is -ENOTSUP */
    .shutdown = tls_shutdown,
    .destroy = tls_destroy,
};

/* ---- wrapping and the handshake ------------------------------------------------- */

/* SNI and the name to verify.  An IP address is verified as one and never
 * sent as SNI (RFC 6066). */
static int set_peer_name(cio__tls *t, const cio_tls_ctx *ctx, const char *name)
{
    if (!name || !*name)
        return ctx->check_hostname ? -EINVAL : 0;
    char host[INET6_ADDRSTRLEN + 2];
    unsigned char ip[16];
    size_t len = strlen(name);
    bool is_ip = false;
    if (len < sizeof(host)) {
        bool bracketed = len > 2 && name[0] == '[' && name[len - 1] == ']';
        snprintf(host, sizeof(host), "%.*s", (int)(bracketed ? len - 2 : len), name + bracketed);
        is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
    }
    int ok = 1;
    if (!is_ip)
        ok = SSL_set_tlsext_host_name(t->ssl, name);
    if (ok && ctx->check_hostname)
        ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host)
                   : SSL_set1_host(t->ssl, name);
    if (!ok) {
        clear_errors();
        return -EINVAL;
    }
    return 0;
}

int cio__tls_wrap(cio__transport *lower, cio_tls_ctx *ctx, const char *name,
                  double shutdown_timeout, const void *pre, size_t prelen, bool lower_eof,
                  cio__tls **out)
{
    cio__tls *t = cio__calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->tp.ops = &tls_ops;
    t->tp.ep = lower->ep;
    t->lower = lower;
    t->shutdown_timeout = shutdown_timeout;
    t->tcp_eof = lower_eof;
    cio__timer_init(&t->shutdown_timer);
    BIO *inner = NULL;
    t->ssl = SSL_new(ctx->ssl_ctx);
    if (!t->ssl || !BIO_new_bio_pair(&inner, BIO_OUT, &t->net, BIO_IN)) {
        clear_errors();
        state_free(t);
        return -ENOMEM;
    }
    SSL_set_bio(t->ssl, inner, inner);
    SSL_set_app_data(t->ssl, t);
    /* A kept record is retried from t->retry, not from the caller's
     * buffer it was first offered in. */
    SSL_set_mode(t->ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    int rc = 0;
    if (ctx->server)
        SSL_set_accept_state(t->ssl);
    else {
        SSL_set_connect_state(t->ssl);
        rc = set_peer_name(t, ctx, name);
    }
    /* What the reader buffered but nobody read is the start of the
     * peer's TLS (a ClientHello right behind "STARTTLS\r\n"). */
    if (!rc && prelen) {
        rc = cio__buf_reserve(&t->pre, prelen);
        if (!rc) {
            memcpy(t->pre.data, pre, prelen);
            t->pre.end = prelen;
        }
    }
    if (rc) {
        state_free(t);
        return rc;
    }
    cio_tls_ctx_retain(ctx);
    t->ctx = ctx;
    *out = t;
    return 0;
}

int cio__tls_handshake(cio__tls *t)
{
    for (;;) {
        clear_errors();
        int r = SSL_do_handshake(t->ssl);
        int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(t->ssl, r);
        /* Our flight, or the alert that ends it; what the lower transport
         * does not take now goes out when it is writable. */
        int prc = push_out(t);
        if (prc == -EAGAIN)
            prc = 0;
        if (r == 1 && !prc)
            break;
        if (r == 1 || prc)
            return prc;
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
            return tls_error(t, err);
        if (err == SSL_ERROR_WANT_WRITE)
            return -EAGAIN; /* the BIO is full: wait for the lower transport */
        ssize_t n = pull_in(t);
        if (n > 0)
            continue;
        if (n == 0) {
            cio__tls_set_reason(t, "connection closed by the peer during the TLS handshake");
            return -ECONNRESET;
        }
        return (int)n;
    }
    t->established = true;
    const unsigned char *alpn = NULL;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(t->ssl, &alpn, &alpn_len);
    if (alpn)
        memcpy(t->alpn, alpn, alpn_len); /* < 256: a one-byte length on the wire */
    t->alpn[alpn ? alpn_len : 0] = '\0';
    return 0;
}
