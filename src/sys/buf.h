/* A growable byte buffer with a read cursor: the stream's read buffer.
 * Bytes live in data[start, end); consuming moves start, and space is
 * reclaimed by sliding the bytes down when the tail runs out. */
#ifndef CIO_BUF_H
#define CIO_BUF_H

#include <stddef.h>
#include <string.h>

typedef struct cio__buf {
    char *data;
    size_t start, end, cap;
} cio__buf;

static inline size_t cio__buf_len(const cio__buf *b)
{
    return b->end - b->start;
}

static inline char *cio__buf_head(const cio__buf *b)
{
    return b->data + b->start;
}

static inline void cio__buf_consume(cio__buf *b, size_t n)
{
    b->start += n;
    if (b->start == b->end)
        b->start = b->end = 0;
}

/* Make room for at least `want` more bytes at the tail, growing to at most
 * max(want + len, current cap * 2).  0 or -ENOMEM (buffer unchanged). */
int cio__buf_reserve(cio__buf *b, size_t want);
/* Put bytes back in front of the unread data (used to undo a read). */
int cio__buf_prepend(cio__buf *b, const void *data, size_t len);
/* Release the memory of an empty buffer if it grew large. */
void cio__buf_trim(cio__buf *b);
void cio__buf_free(cio__buf *b);

#endif
