/* The stream read buffer (see buf.h). */
#include "sys/buf.h"

#include "sys/list.h"
#include "sys/sys.h"

enum { MIN_CAP = 4096, KEEP_CAP = 64 * 1024 };

int cio__buf_reserve(cio__buf *b, size_t want)
{
    if (b->cap - b->end >= want)
        return 0;
    size_t len = cio__buf_len(b);
    if (b->start && b->cap - len >= want) {
        memmove(b->data, b->data + b->start, len);
        b->start = 0;
        b->end = len;
        return 0;
    }
    size_t cap = b->cap ? b->cap * 2 : MIN_CAP;
    if (cap < len + want)
        cap = len + want;
    char *data = cio__malloc(cap);
    if (!data)
        return -ENOMEM;
    if (len)
        memcpy(data, b->data + b->start, len);
    cio__free(b->data);
    b->data = data;
    b->start = 0;
    b->end = len;
    b->cap = cap;
    return 0;
}

int cio__buf_prepend(cio__buf *b, const void *data, size_t len)
{
    if (len <= b->start) {
        b->start -= len;
        memcpy(b->data + b->start, data, len);
        return 0;
    }
    size_t have = cio__buf_len(b);
    size_t cap = have + len > MIN_CAP ? have + len : MIN_CAP;
    char *mem = cap <= b->cap ? b->data : cio__malloc(cap);
    if (!mem)
        return -ENOMEM;
    memmove(mem + len, b->data + b->start, have);
    memcpy(mem, data, len);
    if (mem != b->data) {
        cio__free(b->data);
        b->cap = cap;
    }
    b->data = mem;
    b->start = 0;
    b->end = have + len;
    return 0;
}

void cio__buf_trim(cio__buf *b)
{
    if (b->start == b->end && b->cap > KEEP_CAP)
        cio__buf_free(b);
}

void cio__buf_free(cio__buf *b)
{
    cio__free(b->data);
    *b = (cio__buf){0};
}
