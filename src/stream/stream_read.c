/* The reader: read, read_all, readexactly, readuntil (one separator or a
 * set), readline, at_eof — with asyncio's limit and EOF rules.
 *
 * Every operation first looks at the buffer and asks the transport for
 * more only when it must (fill).  A read that fails — cancelled, timed
 * out, over the limit, out of memory — consumes nothing, so no byte is
 * ever lost; only success and EOF-with-partial-data consume. */
#include <stdlib.h>

#include "stream/stream.h"

enum { MIN_READ = 4096 };

/* Park until the fd is readable.  One task at a time may wait. */
int cio__stream_wait_readable(cio_stream *s)
{
    cio_task *self = cio__current();
    if (!self)
        return -EPERM;
    if (s->reader && s->reader != self)
        return -EBUSY;
    s->reader = self;
    s->ep.io.want_read = true;
    int rc = cio__park();
    s->reader = NULL;
    s->ep.io.want_read = false;
    return rc;
}

/* One transport read into dst: > 0 bytes, 0 at EOF (recorded), -EAGAIN,
 * or the connection's error (recorded: the connection is over). */
static ssize_t pull(cio_stream *s, void *dst, size_t len)
{
    if (s->read_error)
        return s->read_error;
    if (s->eof || s->closing) {
        s->eof = true;
        return 0;
    }
    ssize_t n = s->tp->ops->read(s->tp, dst, len);
    cio__stream_want_held_out(s); /* reading may produce records (TLS) */
    if (n == 0)
        s->eof = true;
    else if (n < 0 && n != -EAGAIN) {
        s->read_error = (int)n;
        cio__stream_fail(s, (int)n);
    }
    return n;
}

/* Append at least one more byte to the buffer: > 0 bytes added, 0 at EOF,
 * or an error.  `want` is how many more bytes the caller can use. */
static ssize_t fill(cio_stream *s, size_t want)
{
    if (want < MIN_READ)
        want = MIN_READ;
    if (want > CIO__READ_CHUNK)
        want = CIO__READ_CHUNK;
    for (;;) {
        /* Wait before reserving: an idle stream holds no buffer. */
        if (s->tp->ops->read_idle(s->tp) && !s->eof && !s->read_error && !s->closing) {
            int rc = cio__stream_wait_readable(s);
            if (rc)
                return rc;
            continue;
        }
        int rc = cio__buf_reserve(&s->rbuf, want);
        if (rc)
            return rc;
        size_t space = s->rbuf.cap - s->rbuf.end;
        if (space > CIO__READ_CHUNK)
            space = CIO__READ_CHUNK;
        ssize_t n = pull(s, s->rbuf.data + s->rbuf.end, space);
        if (n > 0)
            s->rbuf.end += (size_t)n;
        if (n != -EAGAIN)
            return n;
        rc = cio__stream_wait_readable(s);
        if (rc)
            return rc;
    }
}

/* readline resynchronisation: drop the rest of an over-long line, through
 * its newline, before any other read.  0, or an error (the discarding
 * goes on at the next read). */
static int skip_bad_line(cio_stream *s)
{
    while (s->discard_line) {
        size_t len = cio__buf_len(&s->rbuf);
        char *nl = len ? memchr(cio__buf_head(&s->rbuf), '\n', len) : NULL;
        if (nl) {
            cio__buf_consume(&s->rbuf, (size_t)(nl - cio__buf_head(&s->rbuf)) + 1);
            s->discard_line = false;
            break;
        }
        cio__buf_consume(&s->rbuf, len);
        ssize_t n = fill(s, 0);
        if (n == 0)
            s->discard_line = false;
        else if (n < 0)
            return (int)n;
    }
    return 0;
}

ssize_t cio_read(cio_stream *s, void *buf, size_t n)
{
    if (!n)
        return 0;
    int rc = skip_bad_line(s);
    if (rc)
        return rc;
    while (cio__buf_len(&s->rbuf) == 0) {
        /* Nothing buffered: a large read goes straight into the caller's
         * buffer, saving a copy. */
        ssize_t got = n >= MIN_READ ? pull(s, buf, n) : fill(s, n);
        if (got == 0 || (got > 0 && n >= MIN_READ))
            return got;
        if (got == -EAGAIN)
            got = cio__stream_wait_readable(s);
        if (got < 0)
            return got;
    }
    size_t len = cio__buf_len(&s->rbuf);
    if (len > n)
        len = n;
    memcpy(buf, cio__buf_head(&s->rbuf), len);
    cio__buf_consume(&s->rbuf, len);
    cio__buf_trim(&s->rbuf);
    return (ssize_t)len;
}

ssize_t cio_read_all(cio_stream *s, char **data, size_t *len)
{
    ssize_t rc = skip_bad_line(s);
    *data = NULL;
    *len = 0;
    while (rc == 0) {
        ssize_t n = fill(s, CIO__READ_CHUNK);
        if (n == 0)
            break;
        if (n < 0 && n == s->read_error)
            rc = n; /* the connection failed: hand over what we have */
        else if (n < 0)
            return n; /* interrupted: nothing consumed */
    }
    size_t have = cio__buf_len(&s->rbuf);
    if (have) {
        /* Hand the buffer itself over when it starts at its base. */
        if (s->rbuf.start == 0) {
            *data = s->rbuf.data;
            s->rbuf = (cio__buf){0};
        } else {
            char *copy = cio__malloc(have);
            if (!copy)
                return -ENOMEM;
            memcpy(copy, cio__buf_head(&s->rbuf), have);
            cio__buf_consume(&s->rbuf, have);
            *data = copy;
        }
        *len = have;
    }
    return rc ? rc : (ssize_t)have;
}

ssize_t cio_readexactly(cio_stream *s, void *buf, size_t n, size_t *partial)
{
    if (partial)
        *partial = 0;
    if (!n)
        return 0;
    int rc = skip_bad_line(s);
    if (rc)
        return rc;
    while (cio__buf_len(&s->rbuf) < n) {
        ssize_t got = fill(s, n - cio__buf_len(&s->rbuf));
        if (got < 0)
            return got;
        if (got == 0) {
            size_t have = cio__buf_len(&s->rbuf);
            memcpy(buf, cio__buf_head(&s->rbuf), have);
            cio__buf_consume(&s->rbuf, have);
            if (partial)
                *partial = have;
            return CIO_EINCOMPLETE;
        }
    }
    memcpy(buf, cio__buf_head(&s->rbuf), n);
    cio__buf_consume(&s->rbuf, n);
    cio__buf_trim(&s->rbuf);
    return (ssize_t)n;
}

/* ---- readuntil ---------------------------------------------------------- */

/* asyncio's StreamReader.readuntil (3.13) on the buffer: returns the
 * length up to and including the earliest-ending separator (a tie goes to
 * the shorter), CIO_ELIMIT, CIO_EINCOMPLETE (data left buffered) or an
 * error.  Consumes nothing. */
static ssize_t find_until(cio_stream *s, const struct iovec *seps, size_t nseps)
{
    size_t min_len = SIZE_MAX, max_len = 0;
    if (!nseps || !seps)
        return -EINVAL;
    for (size_t i = 0; i < nseps; i++) {
        if (!seps[i].iov_len || !seps[i].iov_base)
            return -EINVAL;
        min_len = seps[i].iov_len < min_len ? seps[i].iov_len : min_len;
        max_len = seps[i].iov_len > max_len ? seps[i].iov_len : max_len;
    }
    int rc = skip_bad_line(s);
    if (rc)
        return rc;
    size_t offset = 0;
    for (;;) {
        size_t buflen = cio__buf_len(&s->rbuf);
        if (buflen >= offset + min_len) {
            const char *head = cio__buf_head(&s->rbuf);
            size_t best_start = 0, best_end = SIZE_MAX, best_len = 0;
            for (size_t i = 0; i < nseps; i++) {
                const char *hit =
                    memmem(head + offset, buflen - offset, seps[i].iov_base, seps[i].iov_len);
                if (!hit)
                    continue;
                size_t start = (size_t)(hit - head), end = start + seps[i].iov_len;
                if (end < best_end || (end == best_end && seps[i].iov_len < best_len)) {
                    best_start = start;
                    best_end = end;
                    best_len = seps[i].iov_len;
                }
            }
            if (best_end != SIZE_MAX) {
                if (best_start > s->limit) {
                    s->overrun_consumed = best_start;
                    return CIO_ELIMIT;
                }
                return (ssize_t)best_end;
            }
            offset = buflen + 1 > max_len ? buflen + 1 - max_len : 0;
            if (offset > s->limit) {
                s->overrun_consumed = offset;
                return CIO_ELIMIT;
            }
        }
        ssize_t n = fill(s, 0);
        if (n == 0)
            return CIO_EINCOMPLETE;
        if (n < 0)
            return n;
    }
}

static ssize_t copy_out(cio_stream *s, size_t len, void *buf, size_t cap)
{
    if (len > cap) {
        s->needed = len;
        return CIO_EBUFSIZE;
    }
    memcpy(buf, cio__buf_head(&s->rbuf), len);
    cio__buf_consume(&s->rbuf, len);
    cio__buf_trim(&s->rbuf);
    return (ssize_t)len;
}

ssize_t cio_readuntil_any(cio_stream *s, const struct iovec *seps, size_t nseps, void *buf,
                          size_t cap)
{
    ssize_t len = find_until(s, seps, nseps);
    return len < 0 ? len : copy_out(s, (size_t)len, buf, cap);
}

ssize_t cio_readuntil(cio_stream *s, const void *sep, size_t seplen, void *buf, size_t cap)
{
    struct iovec one = {.iov_base = (void *)sep, .iov_len = seplen};
    return cio_readuntil_any(s, &one, 1, buf, cap);
}

ssize_t cio_readuntil_view(cio_stream *s, const void *sep, size_t seplen, const char **view)
{
    struct iovec one = {.iov_base = (void *)sep, .iov_len = seplen};
    ssize_t len = find_until(s, &one, 1);
    if (len < 0)
        return len;
    *view = cio__buf_head(&s->rbuf);
    cio__buf_consume(&s->rbuf, (size_t)len);
    return len;
}

/* readline's extra rules on top of readuntil("\n"): the partial last line
 * at EOF is a normal result, and an over-long line is skipped whole.
 * Returns the line length with the line at the buffer head (not yet
 * consumed), or an error. */
static ssize_t find_line(cio_stream *s)
{
    static const struct iovec nl = {.iov_base = (void *)"\n", .iov_len = 1};
    ssize_t len = find_until(s, &nl, 1);
    if (len == CIO_EINCOMPLETE)
        return (ssize_t)cio__buf_len(&s->rbuf);
    if (len == CIO_ELIMIT) {
        size_t have = cio__buf_len(&s->rbuf);
        char *end = memchr(cio__buf_head(&s->rbuf), '\n', have);
        if (end) {
            cio__buf_consume(&s->rbuf, (size_t)(end - cio__buf_head(&s->rbuf)) + 1);
        } else {
            cio__buf_consume(&s->rbuf, have);
            s->discard_line = !s->eof;
        }
        cio__buf_trim(&s->rbuf);
    }
    return len;
}

ssize_t cio_readline(cio_stream *s, void *buf, size_t cap)
{
    ssize_t len = find_line(s);
    return len < 0 ? len : copy_out(s, (size_t)len, buf, cap);
}

ssize_t cio_readline_view(cio_stream *s, const char **view)
{
    ssize_t len = find_line(s);
    if (len < 0)
        return len;
    *view = cio__buf_head(&s->rbuf);
    cio__buf_consume(&s->rbuf, (size_t)len);
    return len;
}

/* ---- state ---------------------------------------------------------------- */

bool cio_at_eof(const cio_stream *s)
{
    return s->eof && cio__buf_len(&s->rbuf) == 0;
}

size_t cio_stream_buffered(const cio_stream *s)
{
    return cio__buf_len(&s->rbuf);
}

size_t cio_stream_overrun_consumed(const cio_stream *s)
{
    return s->overrun_consumed;
}

size_t cio_stream_needed(const cio_stream *s)
{
    return s->needed;
}

size_t cio_stream_limit(const cio_stream *s)
{
    return s->limit;
}

void cio__stream_salvage(cio_stream *s)
{
    /* Bounded: a peer that keeps sending cannot keep us here. */
    for (int rounds = 0; rounds < 64 && !s->eof && !s->read_error; rounds++) {
        if (cio__buf_reserve(&s->rbuf, MIN_READ) != 0)
            return;
        s->ep.rd_ready = true;
        ssize_t n = s->tp->ops->read(s->tp, s->rbuf.data + s->rbuf.end, s->rbuf.cap - s->rbuf.end);
        if (n > 0)
            s->rbuf.end += (size_t)n;
        else if (n == 0)
            s->eof = true;
        else
            return;
    }
}
