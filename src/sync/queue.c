/* asyncio.Queue, LifoQueue and PriorityQueue (3.13, with shutdown).
 *
 * Storage: FIFO is a ring buffer, LIFO a stack, PRIORITY a binary min-heap
 * whose ties are broken by an insertion sequence number, so equal items
 * come out in FIFO order (asyncio relies on the caller adding a counter to
 * its tuples; here the queue does it).  Storage grows on demand, doubling
 * up to maxsize; a failed growth leaves the queue untouched.
 *
 * Waiters are served by direct handoff rather than asyncio's "wake and
 * retry", so the order across waiters is strictly FIFO and no wake-up can
 * be swallowed by a cancelled waiter:
 *  - put() with getters queued gives the item straight to the first one;
 *  - get() that frees a slot moves the first queued putter's item in.
 * Hence getters are queued only while the queue is empty, putters only
 * while it is full, and a waiter interrupted while still queued has been
 * unlinked by cio__wait_on and had no effect, whereas one that was served
 * first returns 0 (its item delivered or taken) whatever came after.  An
 * interrupted waiter may stay linked until it runs; see queue_refill. */
#include <string.h>

#include "core/internal.h"

/* A task blocked in get() or put(); item travels in whichever direction. */
typedef struct queue_waiter {
    cio__waiter w; /* w.value: 0 when served, CIO_EQUEUESHUTDOWN on shutdown */
    void *item;
} queue_waiter;

#define QUEUE_MIN_CAP 8

int cio_queue_init(cio_queue *q, enum cio_queue_kind kind, size_t maxsize,
                   int (*cmp)(const void *a, const void *b))
{
    if (kind != CIO_QUEUE_FIFO && kind != CIO_QUEUE_LIFO && kind != CIO_QUEUE_PRIORITY)
        return -EINVAL;
    if ((kind == CIO_QUEUE_PRIORITY) != (cmp != NULL))
        return -EINVAL;
    memset(q, 0, sizeof *q);
    q->kind = kind;
    q->maxsize = maxsize;
    q->cmp = cmp;
    return 0;
}

void cio_queue_destroy(cio_queue *q)
{
    assert(cio__list_empty(&q->getters) && cio__list_empty(&q->putters) &&
           cio__list_empty(&q->joiners));
    cio__free(q->items);
    cio__free(q->seqs);
    q->items = NULL;
    q->seqs = NULL;
    q->head = q->count = q->cap = 0;
}

size_t cio_queue_size(const cio_queue *q)
{
    return q->count;
}

size_t cio_queue_maxsize(const cio_queue *q)
{
    return q->maxsize;
}

bool cio_queue_empty(const cio_queue *q)
{
    return q->count == 0;
}

bool cio_queue_full(const cio_queue *q)
{
    return q->maxsize != 0 && q->count >= q->maxsize;
}

/* ---- storage ---------------------------------------------------------------- */

/* Make room for one more item.  Either both arrays grow or cap stays as it
 * was (a larger items array with an unchanged cap is harmless). */
static int queue_reserve(cio_queue *q)
{
    if (q->count < q->cap)
        return 0;
    if (q->cap > SIZE_MAX / 2 / sizeof(uint64_t))
        return -ENOMEM;
    size_t ncap = q->cap ? q->cap * 2 : QUEUE_MIN_CAP;
    if (q->maxsize != 0 && ncap > q->maxsize)
        ncap = q->maxsize; /* > cap: reserve is only called when not full */

    void **items = cio__reallocarray(q->items, ncap, sizeof *items);
    if (items == NULL)
        return -ENOMEM;
    q->items = items;
    if (q->kind == CIO_QUEUE_PRIORITY) {
        uint64_t *seqs = cio__reallocarray(q->seqs, ncap, sizeof *seqs);
        if (seqs == NULL)
            return -ENOMEM;
        q->seqs = seqs;
    }
    /* A full ring with head > 0 wraps: move the [head, cap) run to the end
     * of the larger buffer so the items stay contiguous modulo ncap. */
    if (q->kind == CIO_QUEUE_FIFO && q->head + q->count > q->cap) {
        size_t run = q->cap - q->head;
        memmove(items + ncap - run, items + q->head, run * sizeof *items);
        q->head = ncap - run;
    }
    q->cap = ncap;
    return 0;
}

static bool heap_less(const cio_queue *q, size_t i, size_t j)
{
    int c = q->cmp(q->items[i], q->items[j]);
    return c != 0 ? c < 0 : q->seqs[i] < q->seqs[j];
}

static void heap_swap(cio_queue *q, size_t i, size_t j)
{
    void *item = q->items[i];
    uint64_t seq = q->seqs[i];
    q->items[i] = q->items[j];
    q->seqs[i] = q->seqs[j];
    q->items[j] = item;
    q->seqs[j] = seq;
}

static void heap_up(cio_queue *q, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!heap_less(q, i, parent))
            break;
        heap_swap(q, i, parent);
        i = parent;
    }
}

static void heap_down(cio_queue *q, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, min = i;
        if (l < q->count && heap_less(q, l, min))
            min = l;
        if (r < q->count && heap_less(q, r, min))
            min = r;
        if (min == i)
            break;
        heap_swap(q, i, min);
        i = min;
    }
}

/* Store item; the caller has made room with queue_reserve. */
static void queue_push(cio_queue *q, void *item)
{
    assert(q->count < q->cap);
    switch (q->kind) {
    case CIO_QUEUE_FIFO:
        q->items[(q->head + q->count) % q->cap] = item;
        q->count++;
        break;
    case CIO_QUEUE_LIFO:
        q->items[q->count++] = item;
        break;
    case CIO_QUEUE_PRIORITY:
        q->items[q->count] = item;
        q->seqs[q->count] = q->next_seq++;
        q->count++;
        heap_up(q, q->count - 1);
        break;
    }
}

static void *queue_pop(cio_queue *q)
{
    void *item = NULL;
    assert(q->count > 0);
    switch (q->kind) {
    case CIO_QUEUE_FIFO:
        item = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
        break;
    case CIO_QUEUE_LIFO:
        item = q->items[--q->count];
        break;
    case CIO_QUEUE_PRIORITY:
        item = q->items[0];
        q->count--;
        if (q->count > 0) {
            q->items[0] = q->items[q->count];
            q->seqs[0] = q->seqs[q->count];
            heap_down(q, 0);
        }
        break;
    }
    if (q->count == 0)
        q->head = 0;
    return item;
}

/* ---- put / get ---------------------------------------------------------------- */

/* Serve the first waiter of list.  The item is exchanged after the wake:
 * the woken task runs only once the caller blocks or yields, and only
 * cio__wake_first knows which waiter it picked. */
static queue_waiter *wake_first(cio__node *list)
{
    cio__waiter *w = cio__wake_first(list, 0);
    return w ? cio__container_of(w, queue_waiter, w) : NULL;
}

/* Accept item into a queue that has room and no queued putters: hand it to
 * the first getter, or store it. */
static int queue_accept(cio_queue *q, void *item)
{
    queue_waiter *getter = wake_first(&q->getters);
    if (getter != NULL) {
        assert(q->count == 0);
        getter->item = item;
    } else {
        int rc = queue_reserve(q);
        if (rc < 0)
            return rc;
        queue_push(q, item);
    }
    q->unfinished++;
    return 0;
}

/* Give free slots to queued putters, in order.  Storage cannot run short
 * here: the first putter queued because the queue was full, so the
 * storage had already grown to maxsize (it never shrinks). */
static void queue_refill(cio_queue *q)
{
    while (!q->shutdown && !cio_queue_full(q) && !cio__list_empty(&q->putters) &&
           queue_reserve(q) == 0) {
        queue_waiter *putter = wake_first(&q->putters);
        if (putter == NULL)
            break;
        queue_push(q, putter->item);
        q->unfinished++;
    }
}

/* Remove the next item; the freed slot goes to the first queued putter. */
static void *queue_take(cio_queue *q)
{
    void *item = queue_pop(q);
    queue_refill(q);
    return item;
}

/* asyncio lets a put_nowait slip in while a woken putter has not run yet;
 * with handoff the queue stays full while putters are queued, and the
 * extra check keeps newcomers behind them regardless. */
static bool put_must_wait(const cio_queue *q)
{
    return cio_queue_full(q) || !cio__list_empty(&q->putters);
}

int cio_queue_put_nowait(cio_queue *q, void *item)
{
    if (q->shutdown)
        return CIO_EQUEUESHUTDOWN;
    if (put_must_wait(q))
        return CIO_EQUEUEFULL;
    return queue_accept(q, item);
}

int cio_queue_put(cio_queue *q, void *item)
{
    if (q->shutdown)
        return CIO_EQUEUESHUTDOWN;
    if (!put_must_wait(q))
        return queue_accept(q, item);
    queue_waiter self = {.item = item};
    int rc = cio__wait_on(&q->putters, &self.w);
    if (rc < 0) {
        /* An interrupted putter may stay linked until it runs; if wakers
         * passed over it, a slot can be free while a newcomer queued
         * behind it.  Serve those putters now (asyncio's put does the same
         * when it leaves without using the slot it was woken for). */
        queue_refill(q);
        return rc;
    }
    /* Served: 0 (item is in the queue) or CIO_EQUEUESHUTDOWN (it is not). */
    return (int)self.w.value;
}

int cio_queue_get_nowait(cio_queue *q, void **item)
{
    if (q->count == 0)
        return q->shutdown ? CIO_EQUEUESHUTDOWN : CIO_EQUEUEEMPTY;
    void *it = queue_take(q);
    if (item != NULL)
        *item = it;
    return 0;
}

int cio_queue_get(cio_queue *q, void **item)
{
    if (q->count > 0 || q->shutdown)
        return cio_queue_get_nowait(q, item);
    queue_waiter self = {0};
    int rc = cio__wait_on(&q->getters, &self.w);
    if (rc < 0)
        return rc;
    if (self.w.value != 0)
        return (int)self.w.value;
    if (item != NULL)
        *item = self.item;
    return 0;
}

/* ---- task_done / join / shutdown ------------------------------------------ */

int cio_queue_task_done(cio_queue *q)
{
    if (q->unfinished == 0)
        return -EINVAL;
    if (--q->unfinished == 0)
        cio__wake_all(&q->joiners, 0);
    return 0;
}

int cio_queue_join(cio_queue *q)
{
    if (q->unfinished == 0)
        return 0;
    /* Woken when the count reaches 0; returns 0 even if more items were
     * put before this task ran, as awaiting asyncio's _finished event does. */
    cio__waiter w = {0};
    return cio__wait_on(&q->joiners, &w);
}

void cio_queue_shutdown(cio_queue *q, bool immediate)
{
    q->shutdown = true;
    if (immediate) {
        while (q->count > 0) {
            (void)queue_pop(q);
            if (q->unfinished > 0)
                q->unfinished--;
        }
        if (q->unfinished == 0)
            cio__wake_all(&q->joiners, 0);
    }
    /* Getters are queued only while empty, so all of them fail; putters
     * fail too (their items are not added). */
    cio__wake_all(&q->getters, CIO_EQUEUESHUTDOWN);
    cio__wake_all(&q->putters, CIO_EQUEUESHUTDOWN);
}
