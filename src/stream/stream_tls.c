/* TLS streams: start_tls, the client and server upgrades of
 * open_connection and start_server, the handshake loop, and the stream's
 * TLS error reason.  The TLS transport (tls.c) does the protocol work;
 * this file stacks it on the stream's transport and waits for the
 * endpoint when the handshake needs the peer. */
#include "stream/stream_tls.h"

cio__tls *cio__stream_tls(const cio_stream *s)
{
    return s ? cio__tls_from(s->tp) : NULL;
}

/* Run the handshake in the calling task within timeout seconds.  On
 * failure the stream is closed with the error. */
static int handshake(cio_stream *s, cio__tls *t, double timeout)
{
    cio_timeout scope;
    cio_timeout_enter(&scope, timeout);
    s->handshaking = true;
    int rc;
    for (;;) {
        if (s->closing) {
            rc = s->close_error ? s->close_error : -ECONNABORTED;
            break;
        }
        rc = cio__tls_handshake(t);
        cio__stream_want_held_out(s); /* our flight */
        if (rc != -EAGAIN)
            break;
        /* Our flight goes out in the background (the endpoint's writable
         * events flush the transport) while we wait for the peer. */
        rc = cio__stream_wait_readable(s);
        if (rc)
            break;
    }
    s->handshaking = false;
    if (cio_timeout_exit(&scope) && rc == -ETIMEDOUT) {
        rc = CIO_ETLSHANDSHAKE_TIMEOUT;
        cio__tls_set_reason(t, "TLS handshake timed out after %g s", timeout);
    }
    if (rc)
        cio__stream_fail(s, rc);
    return rc;
}

static int upgrade(cio_stream *s, cio_tls_ctx *ctx, const char *name, double hs_timeout,
                   double sd_timeout)
{
    cio__tls *t;
    if (!cio__timeout_opt_ok(hs_timeout) || !cio__timeout_opt_ok(sd_timeout))
        return -EINVAL;
    if (!hs_timeout)
        hs_timeout = CIO_DEFAULT_TLS_HANDSHAKE_TIMEOUT;
    if (!sd_timeout)
        sd_timeout = CIO_DEFAULT_TLS_SHUTDOWN_TIMEOUT;
    size_t have = cio__buf_len(&s->rbuf);
    /* A stream that never read has no buffer: no head pointer either
     * (NULL + 0 is undefined behaviour). */
    const char *early = have ? cio__buf_head(&s->rbuf) : NULL;
    int rc = cio__tls_wrap(s->tp, ctx, name, sd_timeout, early, have, s->eof, &t);
    if (rc == -EINVAL)
        return rc; /* a bad argument: the stream is untouched */
    if (rc) {
        /* The peer may already be waiting for our first TLS bytes. */
        cio__stream_fail(s, rc);
        return rc;
    }
    /* The buffered bytes now belong to the TLS transport. */
    cio__buf_consume(&s->rbuf, have);
    cio__buf_trim(&s->rbuf);
    s->tp = &t->tp;
    /* TLS defaults, unless the user chose other marks. */
    s->default_high_water = CIO_TLS_DEFAULT_HIGH_WATER;
    if (s->high_water == CIO_DEFAULT_HIGH_WATER && s->low_water == CIO_DEFAULT_HIGH_WATER / 4) {
        s->high_water = CIO_TLS_DEFAULT_HIGH_WATER;
        s->low_water = CIO_TLS_DEFAULT_HIGH_WATER / 4;
    }
    return handshake(s, t, hs_timeout);
}

/* Wait until everything written in plaintext is on the wire: the TLS
 * transport would otherwise encrypt what is still queued. */
static int flush_plaintext(cio_stream *s)
{
    int rc = cio_drain(s);
    while (!rc && s->wqueued && !s->write_error && !s->closed) {
        cio__waiter w;
        rc = cio__wait_on(&s->drainers, &w);
    }
    return rc ? rc : s->write_error;
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
     * (asyncio drains first too). */
    int rc = flush_plaintext(s);
    if (rc)
        return rc;
    if (s->read_error)
        return s->read_error;
    if (cio__stream_tls(s) || s->closing || s->eof_requested)
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

const char *cio_tls_error_reason(const cio_stream *s)
{
    if (!s)
        return cio__tls_thread_reason();
    cio__tls *t = cio__stream_tls(s);
    return t ? t->reason : "";
}
