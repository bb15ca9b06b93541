/* The obviously-correct reader that fuzz_stream_reader.c compares cio's
 * stream reader against: include/cio/stream.h's rules, written as plainly
 * as possible over one byte array that holds everything that has arrived
 * and not been consumed.
 *
 * The real reader sees the same bytes in an order it cannot change but in
 * chunks it chooses (what the kernel had when it called recv), so the
 * model states only what the header promises whatever the chunking:
 *  - read(n) returns between 1 and min(n, available) bytes: the real one
 *    decides how many, the model checks they are the next ones;
 *  - after CIO_ELIMIT, overrun_consumed lies in (limit, bound], bound
 *    being where the separator starts or, without one, how far a scan of
 *    everything available could go;
 *  - readline's "the rest of an over-long line is discarded" is applied
 *    at once here, lazily by the real reader; the bytes any later call
 *    returns are the same. */
#ifndef CIO_FUZZ_READER_MODEL_H
#define CIO_FUZZ_READER_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "cio.h"

enum op_kind {
    OP_READ,
    OP_READ_ALL,
    OP_READEXACTLY,
    OP_READUNTIL,      /* one separator: cio_readuntil; several: cio_readuntil_any */
    OP_READUNTIL_VIEW, /* the first separator only */
    OP_READLINE,
    OP_READLINE_VIEW,
};

enum { MAX_SEPS = 3 };

struct op {
    enum op_kind kind;
    size_t n; /* read / readexactly size; cap of the copying calls */
    size_t nseps;
    struct iovec seps[MAX_SEPS];
};

typedef struct model {
    char *buf; /* arrived and not consumed */
    size_t len;
    bool eof;     /* the peer's EOF has arrived */
    bool discard; /* the rest of an over-long line is still to be dropped */
    size_t limit;
} model;

/* What the model expects of one call that can complete. */
typedef struct expect {
    ssize_t rc;
    size_t consume;   /* bytes the call takes off the front */
    size_t partial;   /* readexactly's CIO_EINCOMPLETE count */
    size_t needed;    /* after CIO_EBUFSIZE */
    size_t lim_bound; /* after CIO_ELIMIT: overrun_consumed <= lim_bound */
} expect;

static inline void model_consume(model *m, size_t n)
{
    if (!n)
        return;
    memmove(m->buf, m->buf + n, m->len - n);
    m->len -= n;
}

/* readline's resynchronisation; false if it needs more bytes. */
static inline bool model_skip(model *m)
{
    if (!m->discard)
        return true;
    char *nl = m->len ? memchr(m->buf, '\n', m->len) : NULL;
    if (nl) {
        model_consume(m, (size_t)(nl - m->buf) + 1);
        m->discard = false;
        return true;
    }
    model_consume(m, m->len);
    if (m->eof)
        m->discard = false;
    return !m->discard;
}

/* The separator match that ends first (a tie: the shorter); false if none. */
static inline bool model_find(const model *m, const struct op *op, size_t *start, size_t *end)
{
    bool found = false;
    for (size_t i = 0; i < op->nseps; i++) {
        size_t sl = op->seps[i].iov_len;
        for (size_t p = 0; p + sl <= m->len; p++) {
            if (memcmp(m->buf + p, op->seps[i].iov_base, sl) != 0)
                continue;
            if (!found || p + sl < *end || (p + sl == *end && sl < *end - *start)) {
                *start = p;
                *end = p + sl;
                found = true;
            }
            break;
        }
    }
    return found;
}

static inline size_t model_max_seplen(const struct op *op)
{
    size_t max = 0;
    for (size_t i = 0; i < op->nseps; i++)
        max = op->seps[i].iov_len > max ? op->seps[i].iov_len : max;
    return max;
}

/* A found chunk of len bytes, copied into a buffer of cap bytes. */
static inline void model_chunk(expect *e, size_t len, size_t cap)
{
    if (len > cap) {
        e->rc = CIO_EBUFSIZE;
        e->needed = len;
    } else {
        e->rc = (ssize_t)len;
        e->consume = len;
    }
}

static inline bool model_readuntil(model *m, const struct op *op, size_t cap, expect *e)
{
    size_t start, end;
    if (model_find(m, op, &start, &end)) {
        if (start > m->limit) {
            e->rc = CIO_ELIMIT;
            e->lim_bound = start;
        } else {
            model_chunk(e, end, cap);
        }
        return true;
    }
    size_t max = model_max_seplen(op);
    size_t scanned = m->len + 1 > max ? m->len + 1 - max : 0;
    if (scanned > m->limit) {
        e->rc = CIO_ELIMIT;
        e->lim_bound = scanned;
        return true;
    }
    if (!m->eof)
        return false;
    e->rc = CIO_EINCOMPLETE;
    return true;
}

static inline bool model_readline(model *m, size_t cap, expect *e)
{
    char *nl = m->len ? memchr(m->buf, '\n', m->len) : NULL;
    size_t start = nl ? (size_t)(nl - m->buf) : m->len;
    if (start > m->limit) {
        /* The bad line goes, through its newline if it has come. */
        e->rc = CIO_ELIMIT;
        e->lim_bound = start;
        e->consume = nl ? start + 1 : m->len;
        m->discard = !nl && !m->eof;
        return true;
    }
    if (nl) {
        model_chunk(e, start + 1, cap);
        return true;
    }
    if (!m->eof)
        return false;
    model_chunk(e, m->len, cap); /* the partial last line, maybe empty */
    return true;
}

/* Evaluate op on what has arrived: true with *e filled if the call can
 * complete, false if it has to wait for more.  Only the readline
 * resynchronisation changes m here; the caller applies e->consume after
 * checking the real call. */
static inline bool model_eval(model *m, const struct op *op, expect *e)
{
    memset(e, 0, sizeof(*e));
    size_t cap = op->n;
    switch (op->kind) {
    case OP_READ:
    case OP_READEXACTLY:
        if (op->n == 0)
            return true;
        break;
    case OP_READUNTIL:
        if (op->nseps == 0) {
            e->rc = -EINVAL;
            return true;
        }
        break;
    case OP_READUNTIL_VIEW:
    case OP_READLINE_VIEW:
        cap = SIZE_MAX;
        break;
    default:
        break;
    }
    if (!model_skip(m))
        return false;
    switch (op->kind) {
    case OP_READ:
        if (!m->len && !m->eof)
            return false;
        e->rc = (ssize_t)(m->len < op->n ? m->len : op->n); /* the most it may return */
        return true;
    case OP_READ_ALL:
        if (!m->eof)
            return false;
        e->rc = (ssize_t)m->len;
        e->consume = m->len;
        return true;
    case OP_READEXACTLY:
        if (m->len >= op->n) {
            e->rc = (ssize_t)op->n;
            e->consume = op->n;
        } else if (m->eof) {
            e->rc = CIO_EINCOMPLETE;
            e->partial = e->consume = m->len;
        } else {
            return false;
        }
        return true;
    case OP_READUNTIL:
        return model_readuntil(m, op, cap, e);
    case OP_READUNTIL_VIEW: {
        struct op first = *op;
        first.nseps = 1;
        return model_readuntil(m, &first, cap, e);
    }
    case OP_READLINE:
    case OP_READLINE_VIEW:
        return model_readline(m, cap, e);
    }
    return false;
}

#endif
