/* The writer: write never blocks (hand the transport what it takes now,
 * queue the rest), the loop flushes the queue when the endpoint is
 * writable, drain waits on the water marks, write_eof half-closes once
 * the queue is empty. */
#include <sys/uio.h>

#include "stream/stream.h"

enum {
    MIN_CHUNK = 4096,
    MAX_IOV = 64,
    /* Bytes a task may write through drain without ever waiting before
     * drain yields once, so a write+drain loop cannot starve others. */
    DRAIN_YIELD_BUDGET = 1024 * 1024,
};

static size_t iov_total(const struct iovec *iov, int iovcnt)
{
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    return total;
}

static cio__chunk *chunk_new(size_t cap)
{
    cio__chunk *c = cio__malloc(sizeof(*c) + cap);
    if (!c)
        return NULL;
    c->node.next = c->node.prev = NULL;
    c->off = c->len = 0;
    c->cap = cap;
    return c;
}

/* Copy bytes [skip, total) of iov into the queue.  All or nothing. */
static int queue_bytes(cio_stream *s, const struct iovec *iov, int iovcnt, size_t skip)
{
    size_t need = iov_total(iov, iovcnt) - skip;
    cio__node *last = cio__list_empty(&s->wqueue) ? NULL : s->wqueue.prev;
    cio__chunk *tail = last ? cio__container_of(last, cio__chunk, node) : NULL;
    size_t room = tail ? tail->cap - tail->len : 0;
    cio__chunk *extra = NULL;
    if (need > room) {
        size_t cap = need - room;
        extra = chunk_new(cap < MIN_CHUNK ? MIN_CHUNK : cap);
        if (!extra)
            return -ENOMEM;
    }
    for (int i = 0; i < iovcnt; i++) {
        const char *p = iov[i].iov_base;
        size_t len = iov[i].iov_len;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        p += skip;
        len -= skip;
        skip = 0;
        while (len) {
            if (!tail || tail->len == tail->cap) {
                tail = extra;
                extra = NULL;
                cio__list_push_back(&s->wqueue, &tail->node);
            }
            size_t n = tail->cap - tail->len < len ? tail->cap - tail->len : len;
            memcpy(tail->data + tail->len, p, n);
            tail->len += n;
            p += n;
            len -= n;
        }
    }
    cio__free(extra); /* unused when the tail had room after all */
    s->wqueued += need;
    s->ep.io.want_write = true;
    return 0;
}

void cio__stream_discard_queue(cio_stream *s)
{
    cio__node *n;
    while ((n = cio__list_pop_front(&s->wqueue)))
        cio__free(cio__container_of(n, cio__chunk, node));
    s->wqueued = 0;
    s->ep.io.want_write = false;
}

int cio__stream_send_or_queue(cio_stream *s, const struct iovec *iov, int iovcnt, size_t total)
{
    size_t sent = 0;
    /* One sendmsg takes at most MAX_IOV buffers: go on with the next ones
     * while the socket takes all it is offered.  A socket with room sends
     * no writable edge, so what is queued here could wait for ever. */
    for (int i = 0; !s->wqueued && i < iovcnt;) {
        int cnt = iovcnt - i < MAX_IOV ? iovcnt - i : MAX_IOV;
        ssize_t n = s->tp->ops->write(s->tp, iov + i, cnt);
        if (n == -EAGAIN)
            break;
        if (n < 0) {
            cio__stream_fail(s, (int)n);
            return (int)n;
        }
        sent += (size_t)n;
        if ((size_t)n < iov_total(iov + i, cnt))
            break;
        i += cnt;
    }
    if (sent == total) {
        cio__stream_want_held_out(s);
        return 0;
    }
    int rc = queue_bytes(s, iov, iovcnt, sent);
    if (rc && sent) {
        /* Part of this write is on the wire and the rest cannot be kept:
         * the byte stream is broken, so the connection must end. */
        cio__stream_fail(s, rc);
    }
    return rc;
}

static void consume_sent(cio_stream *s, size_t n)
{
    s->wqueued -= n;
    while (n) {
        cio__chunk *c = cio__container_of(s->wqueue.next, cio__chunk, node);
        size_t left = c->len - c->off;
        if (n < left) {
            c->off += n;
            return;
        }
        n -= left;
        cio__list_remove(&c->node);
        cio__free(c);
    }
}

/* Half-close now.  A pipe's write end half-closes by closing its fd,
 * which ends the stream (asyncio: the write pipe transport's write_eof is
 * a close).  True when the stream is over and may have been freed. */
static bool send_eof(cio_stream *s)
{
    s->eof_sent = true;
    int rc = s->tp->ops->write_eof(s->tp);
    if (rc) {
        cio__stream_fail(s, rc);
        return true;
    }
    if (s->ep.fd < 0) {
        cio__stream_finish_close(s, 0);
        return true;
    }
    return false;
}

void cio__stream_flush(cio_stream *s)
{
    for (;;) {
        struct iovec iov[MAX_IOV];
        int cnt = 0;
        for (cio__node *n = s->wqueue.next; n != &s->wqueue && cnt < MAX_IOV; n = n->next) {
            cio__chunk *c = cio__container_of(n, cio__chunk, node);
            iov[cnt].iov_base = c->data + c->off;
            iov[cnt].iov_len = c->len - c->off;
            cnt++;
        }
        /* With the queue empty, the transport may still hold bytes of its
         * own (TLS records): a write of nothing pushes them out. */
        if (!cnt && !cio__stream_tp_pending(s))
            break;
        ssize_t w = s->tp->ops->write(s->tp, iov, cnt);
        if (w == -EAGAIN)
            break;
        if (w < 0) {
            cio__stream_fail(s, (int)w);
            return;
        }
        if (!w)
            break;
        consume_sent(s, (size_t)w);
    }
    size_t backlog = cio__stream_backlog(s);
    bool held = backlog > 0;
    s->ep.io.want_write = held;
    if (backlog <= s->low_water)
        cio__wake_all(&s->drainers, 0);
    if (s->eof_requested && !s->eof_sent && !held && send_eof(s))
        return; /* s may be freed */
    /* The transport's shutdown runs behind its own bytes (TLS sends
     * close_notify after its records) and may end a close that cannot
     * finish (its own timeout). */
    if (s->closing && !s->closed && !s->wqueued) {
        bool graceful = s->tp->ops->shutdown && !s->write_error;
        int rc = graceful ? s->tp->ops->shutdown(s->tp) : 0;
        if (rc != -EAGAIN) {
            cio__stream_finish_close(s, rc); /* may free s */
            return;
        }
        /* The transport is waiting for the peer (its close_notify) or
         * for room for its own bytes: the endpoint's readiness calls it
         * again. */
        s->ep.io.want_read = true;
        s->ep.io.want_write = cio__stream_tp_pending(s) > 0;
    }
}

int cio_writev(cio_stream *s, const struct iovec *iov, int iovcnt)
{
    if (iovcnt < 0 || (iovcnt && !iov))
        return -EINVAL;
    if (s->write_error)
        return s->write_error;
    if (s->closing || s->eof_requested)
        return -ESHUTDOWN;
    if (s->handshaking)
        return -EBUSY;
    size_t total = iov_total(iov, iovcnt);
    if (!total)
        return 0;
    s->drain_budget += total;
    return cio__stream_send_or_queue(s, iov, iovcnt, total);
}

int cio_write(cio_stream *s, const void *data, size_t len)
{
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    return cio_writev(s, &iov, 1);
}

int cio_drain(cio_stream *s)
{
    if (s->write_error)
        return s->write_error;
    if (s->closing) {
        /* asyncio: a closing transport's drain yields once for
         * connection_lost, then a lost connection is ConnectionResetError
         * (or the error that ended it), at every later drain too. */
        int rc = cio_yield();
        if (rc)
            return rc;
        if (s->write_error)
            return s->write_error;
        if (s->closed)
            return s->close_error ? s->close_error : -ECONNRESET;
    }
    if (cio__stream_backlog(s) <= s->high_water) {
        if (s->drain_budget < DRAIN_YIELD_BUDGET)
            return 0;
        s->drain_budget = 0;
        int rc = cio_yield();
        return rc ? rc : s->write_error;
    }
    s->drain_budget = 0;
    while (cio__stream_backlog(s) > s->low_water && !s->write_error && !s->closed) {
        cio__waiter w;
        int rc = cio__wait_on(&s->drainers, &w);
        if (rc)
            return rc;
    }
    if (s->write_error)
        return s->write_error;
    return s->closed && s->close_error ? s->close_error : 0;
}

int cio_set_write_buffer_limits(cio_stream *s, size_t high, size_t low)
{
    if (!high)
        high = s->default_high_water;
    if (!low)
        low = high / 4;
    if (low > high)
        return -EINVAL;
    s->high_water = high;
    s->low_water = low;
    if (cio__stream_backlog(s) <= low)
        cio__wake_all(&s->drainers, 0);
    return 0;
}

size_t cio_write_buffer_size(const cio_stream *s)
{
    return cio__stream_backlog(s);
}

bool cio_can_write_eof(const cio_stream *s)
{
    return s->tp->ops->write_eof != NULL;
}

int cio_write_eof(cio_stream *s)
{
    if (!cio_can_write_eof(s))
        return -ENOTSUP;
    if (s->eof_requested || s->closing)
        return 0;
    if (s->write_error)
        return s->write_error;
    s->eof_requested = true;
    if (s->wqueued)
        return 0;
    send_eof(s); /* the caller's reference keeps s */
    return s->write_error;
}
