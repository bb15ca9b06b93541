/* Clock and timers.  Timers live in a min-heap ordered by (deadline,
 * seq); each timer knows its heap index, so stop is O(log n), and the
 * sequence number makes equal deadlines fire in the order they were
 * armed. */
#include <math.h>
#include <time.h>

#include "core/loop.h"

int64_t cio__clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

double cio_time(void)
{
    return (double)cio__clock_ns() / 1e9;
}

int64_t cio__now(void)
{
    cio_loop *loop = cio__loop();
    return loop ? loop->now : cio__clock_ns();
}

int64_t cio__deadline_after(double seconds)
{
    if (isnan(seconds) || seconds < 0 || seconds >= 9e9)
        return INT64_MAX;
    return cio__clock_ns() + (int64_t)(seconds * 1e9);
}

/* The heap is 4-ary and keeps each timer's (deadline, seq) in the heap
 * array itself: sifting compares neighbours in one or two cache lines
 * instead of chasing a pointer per comparison, which halves the cost of
 * firing a million timers. */
enum { ARITY = 4 };

static bool before(const struct cio__timer_slot *a, const struct cio__timer_slot *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void place(struct cio__timer_slot *heap, size_t i, struct cio__timer_slot slot)
{
    heap[i] = slot;
    slot.timer->index = i;
}

static void sift_up(struct cio__timer_slot *heap, size_t i)
{
    struct cio__timer_slot slot = heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / ARITY;
        if (!before(&slot, &heap[parent]))
            break;
        place(heap, i, heap[parent]);
        i = parent;
    }
    place(heap, i, slot);
}

static void sift_down(struct cio__timer_slot *heap, size_t len, size_t i)
{
    struct cio__timer_slot slot = heap[i];
    for (;;) {
        size_t first = ARITY * i + 1;
        if (first >= len)
            break;
        size_t best = first, end = first + ARITY < len ? first + ARITY : len;
        for (size_t c = first + 1; c < end; c++)
            if (before(&heap[c], &heap[best]))
                best = c;
        if (!before(&heap[best], &slot))
            break;
        place(heap, i, heap[best]);
        i = best;
    }
    place(heap, i, slot);
}

static void heap_remove(cio_loop *loop, cio__timer *t)
{
    size_t i = t->index;
    struct cio__timer_slot last = loop->timers[--loop->ntimers];
    t->index = SIZE_MAX;
    if (last.timer == t)
        return;
    place(loop->timers, i, last);
    if (i > 0 && before(&last, &loop->timers[(i - 1) / ARITY]))
        sift_up(loop->timers, i);
    else
        sift_down(loop->timers, loop->ntimers, i);
}

int cio__timer_start(cio__timer *t, int64_t deadline, void (*cb)(cio__timer *))
{
    cio_loop *loop = cio__loop();
    if (t->index != SIZE_MAX && t->cb)
        heap_remove(loop, t);
    if (loop->ntimers == loop->timers_cap) {
        size_t cap = loop->timers_cap ? loop->timers_cap * 2 : 64;
        struct cio__timer_slot *heap = cio__reallocarray(loop->timers, cap, sizeof(*heap));
        if (!heap) {
            t->index = SIZE_MAX;
            return -ENOMEM;
        }
        loop->timers = heap;
        loop->timers_cap = cap;
    }
    t->deadline = deadline;
    t->seq = loop->timer_seq++;
    t->cb = cb;
    struct cio__timer_slot slot = {.deadline = deadline, .seq = t->seq, .timer = t};
    place(loop->timers, loop->ntimers++, slot);
    sift_up(loop->timers, t->index);
    return 0;
}

void cio__timer_stop(cio__timer *t)
{
    if (t->index == SIZE_MAX || !t->cb)
        return;
    heap_remove(cio__loop(), t);
}

int64_t cio__timers_next(cio_loop *loop)
{
    return loop->ntimers ? loop->timers[0].deadline : INT64_MAX;
}

void cio__timers_fire(cio_loop *loop)
{
    /* Timers armed by callbacks with a deadline already past fire on the
     * next iteration, not in this loop: that bounds the work per tick. */
    uint64_t seq_limit = loop->timer_seq;
    while (loop->ntimers) {
        cio__timer *t = loop->timers[0].timer;
        if (loop->timers[0].deadline > loop->now || loop->timers[0].seq >= seq_limit)
            break;
        heap_remove(loop, t);
        t->cb(t);
    }
}
