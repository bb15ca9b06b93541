/* Stream lifetime: creation over an fd, readiness dispatch, graceful close,
 * abort, connection loss, wait_closed, references, extra info. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/un.h>

#include "core/debug.h"
#include "stream/stream.h"

int cio__stream_opts_check(const cio_stream_opts *o)
{
    if (!o)
        return 0;
    if (o->limit <= 0)
        return -EINVAL;
    /* The transport's default high mark is at least the plain one. */
    size_t high = o->high_water ? o->high_water : CIO_DEFAULT_HIGH_WATER;
    if (o->low_water > high)
        return -EINVAL;
    if (!(o->close_timeout > 0))
        return -EINVAL;
    return 0;
}

static void stream_ready(cio__io *io, bool readable, bool writable)
{
    cio_stream *s = cio__container_of(io, cio_stream, ep.io);
    if (readable) {
        s->ep.rd_ready = true;
        if (s->reader)
            cio__unpark(s->reader);
    }
    if (writable)
        s->ep.wr_ready = true;
    /* A reset on a connection nobody is reading: asyncio notices it
     * through its always-on reader, and so must wait_closed here.  What
     * was received before the reset is kept (cio__stream_fail salvages). */
    if (io->error && !s->reader && !s->closed) {
        int err = cio__endpoint_error(&s->ep);
        if (err) {
            cio__stream_fail(s, err); /* may free s */
            return;
        }
    }
    /* A reader may be waiting for the transport to get its bytes out
     * (a TLS handshake whose flight the socket did not take at once). */
    if (writable && s->reader && cio__stream_tp_pending(s))
        cio__unpark(s->reader);
    /* Flushing may finish a close and free s: nothing may touch s after. */
    if ((writable && (s->wqueued || cio__stream_tp_pending(s))) || (s->closing && !s->closed))
        cio__stream_flush(s);
}

int cio__stream_new(cio_stream **out, int fd, int family, const cio_stream_opts *opts)
{
    int rc = cio__stream_opts_check(opts);
    if (rc)
        goto out_close_fd;
    if (family == AF_INET || family == AF_INET6) {
        int one = 1;
        /* Best effort: a socketpair or a non-TCP socket may refuse it. */
        cio__setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    cio_stream *s = cio__calloc(1, sizeof(*s));
    if (!s) {
        rc = -ENOMEM;
        goto out_close_fd;
    }
    s->family = family;
    s->limit = opts ? (size_t)opts->limit : CIO_DEFAULT_LIMIT;
    s->default_high_water = CIO_DEFAULT_HIGH_WATER;
    s->high_water = opts && opts->high_water ? opts->high_water : CIO_DEFAULT_HIGH_WATER;
    s->low_water = opts && opts->low_water ? opts->low_water : s->high_water / 4;
    s->close_timeout = opts ? opts->close_timeout : CIO_DEFAULT_CLOSE_TIMEOUT;
    s->refs = 1;
    s->loop = cio__loop();
    cio__list_init(&s->wqueue);
    cio__list_init(&s->drainers);
    cio__list_init(&s->close_waiters);
    cio__timer_init(&s->close_timer);
    /* An idle connection never gets a read buffer: cio holds ~5 KiB per
     * idle connection, mostly the handler task's one stack page. */
    rc = cio__endpoint_open(&s->ep, fd, family);
    if (rc) {
        cio__free(s);
        goto out_close_fd;
    }
    s->ep.io.on_ready = stream_ready;
    s->tp = &s->ep.tp;
    if (s->loop->debug)
        cio__stream_debug_opened(s->loop, s);
    *out = s;
    return 0;
out_close_fd:
    cio__close(fd);
    return rc;
}

int cio_stream_from_fd(cio_stream **out, int fd, const cio_stream_opts *opts)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (fd < 0)
        return -EBADF;
    if (!out || !cio__loop()) {
        cio__close(fd); /* documented: the stream owns fd even on failure */
        return -EINVAL;
    }
    /* A descriptor from elsewhere: cio's own sockets are made with
     * SOCK_NONBLOCK | SOCK_CLOEXEC (four fcntl calls fewer per accept). */
    if (cio__set_nonblock_cloexec(fd) < 0) {
        int rc = cio__err();
        cio__close(fd);
        return rc;
    }
    int family = 0;
    if (cio__getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        family = ss.ss_family;
    return cio__stream_new(out, fd, family, opts);
}

/* ---- freeing ------------------------------------------------------------ */

static void stream_free(cio_stream *s)
{
    cio__stream_debug_freed(s);
    cio__stream_discard_queue(s);
    if (s->tp->ops->destroy)
        s->tp->ops->destroy(s->tp);
    cio__buf_free(&s->rbuf);
    cio__free(s);
}

void cio_stream_retain(cio_stream *s)
{
    s->refs++;
}

void cio_stream_release(cio_stream *s)
{
    if (!s || --s->refs > 0)
        return;
    if (s->closed)
        stream_free(s);
    else
        cio_close(s); /* frees s once closed */
}

/* ---- closing ---------------------------------------------------------------- */

static void close_timed_out(cio__timer *timer)
{
    cio_stream *s = cio__container_of(timer, cio_stream, close_timer);
    cio__stream_discard_queue(s);
    cio__stream_finish_close(s, -ETIMEDOUT);
}

void cio__stream_finish_close(cio_stream *s, int err)
{
    if (s->closed)
        return;
    s->closed = true;
    s->closing = true;
    if (!s->close_error)
        s->close_error = err;
    /* asyncio's connection_lost feeds EOF unless the connection failed:
     * once the buffer is read, at_eof is true and reads return 0. */
    if (!s->read_error)
        s->eof = true;
    cio__timer_stop(&s->close_timer);
    cio__endpoint_close(&s->ep);
    if (s->reader)
        cio__unpark(s->reader);
    cio__wake_all(&s->drainers, 0);
    cio__wake_all(&s->close_waiters, 0);
    if (s->loop_ref) {
        s->loop_ref = false;
        cio__loop_unref(s->loop);
    }
    if (s->refs == 0)
        stream_free(s);
}

void cio_close(cio_stream *s)
{
    if (s->closing)
        return;
    s->closing = true;
    if (s->reader)
        cio__unpark(s->reader);
    /* The loop keeps running until the queue is flushed; the timer bounds
     * how long a peer that never reads can hold that. */
    s->loop_ref = true;
    cio__loop_ref(s->loop);
    if (cio__timer_start(&s->close_timer, cio__deadline_after(s->close_timeout), close_timed_out) !=
        0) {
        cio_abort(s);
        return;
    }
    cio__stream_flush(s); /* may free s */
}

void cio_abort(cio_stream *s)
{
    if (s->closed)
        return;
    s->closing = true;
    cio__stream_discard_queue(s);
    if (!s->write_error)
        s->write_error = -ECONNABORTED;
    cio__stream_finish_close(s, 0);
}

void cio__stream_fail(cio_stream *s, int err)
{
    if (s->closed)
        return;
    bool had_eof = s->eof;
    cio__stream_salvage(s);
    /* An EOF that salvage reads now is the dead socket's (after a reset
     * recv says 0), not the peer's: unless EOF was seen before the
     * failure, readers get the error once the salvaged bytes are read. */
    if (!s->read_error && !had_eof) {
        s->read_error = err;
        s->eof = false;
    }
    if (!s->write_error)
        s->write_error = err;
    cio__stream_discard_queue(s);
    cio__stream_finish_close(s, err);
}

bool cio_is_closing(const cio_stream *s)
{
    return s->closing;
}

int cio_wait_closed(cio_stream *s)
{
    while (!s->closed) {
        cio__waiter w;
        int rc = cio__wait_on(&s->close_waiters, &w);
        if (rc)
            return rc;
    }
    return s->close_error;
}

/* ---- extra info -------------------------------------------------------------- */

static int addr_of(const cio_stream *s, bool peer, struct sockaddr *addr, socklen_t *len)
{
    if (!s->family)
        return -ENOTSOCK;
    if (s->closed)
        return -EBADF;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int r = peer ? cio__getpeername(s->ep.fd, (struct sockaddr *)&ss, &sl)
                 : cio__getsockname(s->ep.fd, (struct sockaddr *)&ss, &sl);
    if (r < 0)
        return cio__err();
    if (*len < sl) {
        *len = sl;
        return -EINVAL;
    }
    memcpy(addr, &ss, sl);
    *len = sl;
    return 0;
}

int cio_stream_peername(const cio_stream *s, struct sockaddr *addr, socklen_t *len)
{
    return addr_of(s, true, addr, len);
}

int cio_stream_sockname(const cio_stream *s, struct sockaddr *addr, socklen_t *len)
{
    return addr_of(s, false, addr, len);
}

int cio_stream_fd(const cio_stream *s)
{
    return s->closed || s->ep.fd < 0 ? -EBADF : s->ep.fd;
}
