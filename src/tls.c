/* The TLS transport: OpenSSL over a BIO pair, plugged under the stream's
 * reader and writer through cio__transport (stream.h), so they have no
 * TLS cases.  Also the handshake (run in the calling task), close_notify
 * on close, cio_start_tls and the hooks for open_connection/start_server.
 *
 * Ciphertext moves between the BIO pair and the fd with the stream's raw
 * I/O: incoming bytes are received straight into the BIO's buffer
 * (BIO_nwrite0), outgoing records are sent straight from it (BIO_nread0)
 * and what the fd does not take joins the stream's write queue, which
 * the loop flushes.  So a write never blocks, and a read returns -EAGAIN
 * only after the fd itself said EAGAIN: the reader then parks until it is
 * readable, which is the only thing that can make progress. */
#include <arpa/inet.h>
#include <stdio.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls.h"

enum {
    BIO_IN = 64 * 1024,  /* peer ciphertext not yet decrypted: > one record */
    BIO_OUT = 64 * 1024, /* our records, moved out right after each SSL call */
    /* Application data a closing stream drops while it waits for the
     * peer's close_notify, per readiness event. */
    CLOSE_READ_BUDGET = 4 * 1024 * 1024,
};

static const cio__transport tls_transport;

/* SSL_get_error reads the thread's error queue, so it must be empty
 * before each SSL call.  It almost always is; peeking is one load where
 * ERR_clear_error walks every slot (~1% of the data path). */
static inline void clear_errors(void)
{
    if (ERR_peek_error())
        ERR_clear_error();
}

cio__tls *cio__tls_of(const cio_stream *s)
{
    return s && s->tp == &tls_transport ? s->tp_data : NULL;
}

/* ---- moving ciphertext ------------------------------------------------------ */

/* Move every record SSL has produced to the fd, queueing what it does
 * not take now.  Never fails the stream itself (callers decide: it runs
 * inside the close path, where that could free the stream): 0 or the
 * send error. */
static int push_out(cio_stream *s, cio__tls *t)
{
    char *p;
    int avail;
    while ((avail = BIO_nread0(t->net, &p)) > 0) {
        size_t len = (size_t)avail, sent = 0;
        if (s->closed)
            return s->write_error ? s->write_error : -EPIPE;
        if (!s->wqueued) {
            struct iovec iov = {.iov_base = p, .iov_len = len};
            ssize_t n = cio__stream_send(s, &iov, 1);
            if (n < 0 && n != -EAGAIN)
                return (int)n;
            if (n > 0)
                sent = (size_t)n;
        }
        if (sent < len) {
            struct iovec iov = {.iov_base = p + sent, .iov_len = len - sent};
            int rc = cio__stream_queue(s, &iov, 1, 0);
            if (rc)
                return rc;
        }
        BIO_nread(t->net, &p, avail);
    }
    return 0;
}

/* Feed SSL more ciphertext: first what the plain reader had buffered
 * before the upgrade, then the fd.  > 0 bytes, 0 at EOF, -EAGAIN (the fd
 * said so), or an error. */
static ssize_t pull_in(cio_stream *s, cio__tls *t)
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
    ssize_t n = cio__stream_recv(s, p, (size_t)room);
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

/* Decrypt into buf, pulling ciphertext from the fd as SSL asks for it,
 * until buf is full or the fd has nothing more. */
static ssize_t tls_read(cio_stream *s, void *buf, size_t len)
{
    cio__tls *t = s->tp_data;
    if (!t->established)
        return -EAGAIN; /* the handshake task owns the connection */
    if (t->rd_error)
        return t->rd_error;
    size_t got = 0;
    for (;;) {
        size_t n = 0;
        clear_errors();
        int r = SSL_read_ex(t->ssl, (char *)buf + got, len - got, &n);
        int err = r ? SSL_ERROR_NONE : SSL_get_error(t->ssl, r);
        /* Reading can produce records too (alerts, key update replies). */
        int prc = push_out(s, t);
        if (r) {
            got += n;
            if (got == len)
                return (ssize_t)got;
            continue;
        }
        if (err == SSL_ERROR_ZERO_RETURN) /* close_notify: a clean EOF */
            return (ssize_t)got;
        if (err == SSL_ERROR_WANT_WRITE && !prc)
            continue;
        ssize_t rc;
        if (err == SSL_ERROR_WANT_WRITE) {
            rc = prc;
        } else if (err == SSL_ERROR_WANT_READ) {
            rc = pull_in(s, t);
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

/* Encrypt everything into records and send or queue them: never waits.
 * Once records exist they cannot be taken back, so any failure here ends
 * the connection (a plain write can refuse all-or-nothing; TLS cannot). */
static int tls_write(cio_stream *s, const struct iovec *iov, int iovcnt, size_t total)
{
    (void)total;
    cio__tls *t = s->tp_data;
    int rc = 0;
    if (!t->established)
        return -EBUSY;
    for (int i = 0; i < iovcnt && !rc; i++) {
        const char *p = iov[i].iov_base;
        size_t len = iov[i].iov_len;
        while (len && !rc) {
            size_t w = 0;
            clear_errors();
            int r = SSL_write_ex(t->ssl, p, len, &w);
            if (r) {
                p += w;
                len -= w;
                continue;
            }
            /* WANT_WRITE: the BIO pair is full; empty it and retry with
             * the same arguments, as OpenSSL requires. */
            int err = SSL_get_error(t->ssl, r);
            rc = err == SSL_ERROR_WANT_WRITE ? push_out(s, t) : tls_error(t, err);
        }
    }
    int prc = push_out(s, t);
    if (!rc)
        rc = prc;
    if (rc)
        cio__stream_fail(s, rc);
    return rc;
}

static void shutdown_timed_out(cio__timer *timer)
{
    cio__tls *t = cio__container_of(timer, cio__tls, shutdown_timer);
    cio_stream *s = t->s;
    cio__tls_set_reason(t, "no close_notify from the peer within %g s", t->shutdown_timeout);
    cio__stream_discard_queue(s);
    cio__stream_finish_close(s, -ETIMEDOUT); /* may free s and t */
}

/* Read (and drop) until the peer's close_notify, its EOF, or an error.
 * Loop context: returns -EAGAIN to be called again on readiness. */
static int await_close_notify(cio_stream *s, cio__tls *t)
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
        ssize_t got = pull_in(s, t);
        if (got == -EAGAIN)
            return -EAGAIN;
        if (got <= 0)
            break; /* the peer is gone: that ends the shutdown too */
    }
    clear_errors();
    return 0;
}

/* Graceful close, called by the writer once the queue is flushed: send
 * close_notify, then wait for the peer's within the shutdown timeout. */
static int tls_close(cio_stream *s)
{
    cio__tls *t = s->tp_data;
    if (!t->established || s->write_error)
        return 0;
    if (!t->shutdown_sent) {
        t->shutdown_sent = true;
        if (cio__timer_start(&t->shutdown_timer, cio__deadline_after(t->shutdown_timeout),
                             shutdown_timed_out) != 0)
            return 0; /* cannot bound the wait: close at once */
        clear_errors();
        SSL_shutdown(t->ssl);
        clear_errors();
        s->io.want_read = true; /* readiness calls us again */
    }
    int rc = push_out(s, t);
    if (rc) {
        /* A peer that has finished its side may be gone already: our
         * close_notify not reaching it does not make the close unclean. */
        bool peer_done = t->tcp_eof || (SSL_get_shutdown(t->ssl) & SSL_RECEIVED_SHUTDOWN);
        return peer_done ? 0 : rc;
    }
    if (s->wqueued)
        return -EAGAIN; /* the writer calls again once close_notify is out */
    return await_close_notify(s, t);
}

static void tls_destroy(cio_stream *s)
{
    cio__tls *t = s->tp_data;
    if (!t)
        return;
    cio__timer_stop(&t->shutdown_timer);
    SSL_free(t->ssl); /* and its end of the pair */
    BIO_free(t->net);
    cio_tls_ctx_free(t->ctx);
    cio_tls_ctx_free(t->sni_ctx);
    cio__buf_free(&t->pre);
    OPENSSL_free(t->der);
    cio__free(t);
    s->tp_data = NULL;
}

static const cio__transport tls_transport = {
    .name = "tls",
    .read = tls_read,
    .write = tls_write,
    .write_eof = NULL, /* TLS has no half-close: cio_write_eof is -ENOTSUP */
    .close = tls_close,
    .destroy = tls_destroy,
};

/* ---- attaching and the handshake ----------------------------------------------- */

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

static void state_free(cio__tls *t)
{
    SSL_free(t->ssl);
    BIO_free(t->net);
    cio__buf_free(&t->pre);
    cio__free(t);
}

/* Make s a TLS stream (not yet handshaken).  On failure s is unchanged. */
static int tls_attach(cio_stream *s, cio_tls_ctx *ctx, const char *name, double shutdown_timeout,
                      cio__tls **out)
{
    cio__tls *t = cio__calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->s = s;
    t->shutdown_timeout = shutdown_timeout;
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
    int rc = 0;
    if (ctx->server)
        SSL_set_accept_state(t->ssl);
    else {
        SSL_set_connect_state(t->ssl);
        rc = set_peer_name(t, ctx, name);
    }
    /* What the plain reader buffered but nobody read is the start of the
     * peer's TLS (a ClientHello right behind "STARTTLS\r\n"). */
    size_t have = cio__buf_len(&s->rbuf);
    if (!rc && have) {
        rc = cio__buf_reserve(&t->pre, have);
        if (!rc) {
            memcpy(t->pre.data, cio__buf_head(&s->rbuf), have);
            t->pre.end = have;
            cio__buf_consume(&s->rbuf, have);
            cio__buf_trim(&s->rbuf);
        }
    }
    if (rc) {
        state_free(t);
        return rc;
    }
    cio_tls_ctx_retain(ctx);
    t->ctx = ctx;
    t->tcp_eof = s->eof;
    s->tp = &tls_transport;
    s->tp_data = t;
    /* TLS defaults, unless the user chose other marks. */
    if (s->high_water == CIO_DEFAULT_HIGH_WATER && s->low_water == CIO_DEFAULT_HIGH_WATER / 4) {
        s->high_water = CIO_TLS_DEFAULT_HIGH_WATER;
        s->low_water = CIO_TLS_DEFAULT_HIGH_WATER / 4;
    }
    *out = t;
    return 0;
}

static int handshake_steps(cio_stream *s, cio__tls *t)
{
    for (;;) {
        if (s->closing)
            return s->close_error ? s->close_error : -ECONNABORTED;
        clear_errors();
        int r = SSL_do_handshake(t->ssl);
        int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(t->ssl, r);
        int prc = push_out(s, t); /* our flight, or the alert that ends it */
        if (r == 1)
            return prc;
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
            return tls_error(t, err);
        if (prc)
            return prc;
        if (err == SSL_ERROR_WANT_WRITE)
            continue;
        ssize_t n = pull_in(s, t);
        if (n > 0)
            continue;
        if (n == 0) {
            cio__tls_set_reason(t, "connection closed by the peer during the TLS handshake");
            return -ECONNRESET;
        }
        if (n != -EAGAIN)
            return (int)n;
        /* Our flight goes out through the write queue in the background
         * while we wait for the peer's answer. */
        int rc = cio__stream_wait_readable(s);
        if (rc)
            return rc;
    }
}

/* Run the handshake in the calling task within timeout seconds.  On
 * failure the stream is closed with the error. */
static int handshake(cio_stream *s, cio__tls *t, double timeout)
{
    cio_timeout scope;
    cio_timeout_enter(&scope, timeout);
    int rc = handshake_steps(s, t);
    if (cio_timeout_exit(&scope) && rc == -ETIMEDOUT) {
        rc = CIO_ETLSHANDSHAKE_TIMEOUT;
        cio__tls_set_reason(t, "TLS handshake timed out after %g s", timeout);
    }
    if (rc) {
        cio__stream_fail(s, rc);
        return rc;
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

static int upgrade(cio_stream *s, cio_tls_ctx *ctx, const char *name, double hs_timeout,
                   double sd_timeout)
{
    cio__tls *t;
    if (!(hs_timeout > 0) || !(sd_timeout > 0))
        return -EINVAL;
    int rc = tls_attach(s, ctx, name, sd_timeout, &t);
    if (rc == -EINVAL)
        return rc; /* a bad argument: the stream is untouched */
    if (rc) {
        /* The peer may already be waiting for our first TLS bytes. */
        cio__stream_fail(s, rc);
        return rc;
    }
    return handshake(s, t, hs_timeout);
}

int cio_start_tls(cio_stream *s, cio_tls_ctx *ctx, const cio_start_tls_opts *opts)
{
    static const cio_start_tls_opts defaults = CIO_START_TLS_OPTS_INIT;
    if (!s || !ctx)
        return -EINVAL;
    if (!cio__current())
        return -EPERM; /* it blocks: tasks only */
    if (!opts)
        opts = &defaults;
    if (s->reader)
        return -EBUSY;
    /* Everything written in plaintext goes out before the first record
     * (the queue keeps the order anyway; this is asyncio's drain). */
    int rc = cio_drain(s);
    if (rc)
        return rc;
    if (s->read_error)
        return s->read_error;
    if (s->tp != &cio__transport_plain || s->closing || s->eof_requested)
        return -EINVAL;
    if (s->reader)
        return -EBUSY;
    return upgrade(s, ctx, opts->server_hostname, opts->handshake_timeout, opts->shutdown_timeout);
}

int cio__tls_client_upgrade(cio_stream *s, const cio_connect_opts *opts, const char *host)
{
    int rc = -EINVAL;
    if (opts->tls && !opts->tls->server) {
        const char *name = opts->server_hostname ? opts->server_hostname : host;
        rc = upgrade(s, opts->tls, name, opts->tls_handshake_timeout, opts->tls_shutdown_timeout);
    }
    if (rc && !s->closed)
        cio_abort(s);
    return rc;
}

int cio__tls_server_upgrade(cio_stream *s, const cio_server_opts *opts)
{
    int rc = -EINVAL;
    if (opts->tls && opts->tls->server)
        rc = upgrade(s, opts->tls, NULL, opts->tls_handshake_timeout, opts->tls_shutdown_timeout);
    if (rc && !s->closed)
        cio_abort(s);
    return rc;
}
