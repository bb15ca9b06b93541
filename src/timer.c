/* Clock and timers.  Timers live in a binary min-heap of pointers ordered
 * by (deadline, seq); each timer knows its heap index, so stop is
 * O(log n), and the sequence number makes equal deadlines fire in the
 * order they were armed. */
#include <math.h>
#include <time.h>

#include "loop.h"

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

static bool before(const cio__timer *a, const cio__timer *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void place(cio__timer **heap, size_t i, cio__timer *t)
{
    heap[i] = t;
    t->index = i;
}

static void sift_up(cio__timer **heap, size_t i)
{
    cio__timer *t = heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(t, heap[parent]))
            break;
        place(heap, i, heap[parent]);
        i = parent;
    }
    place(heap, i, t);
}

static void sift_down(cio__timer **heap, size_t len, size_t i)
{
    cio__timer *t = heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= len)
            break;
        if (child + 1 < len && before(heap[child + 1], heap[child]))
            child++;
        if (!before(heap[child], t))
            break;
        place(heap, i, heap[child]);
        i = child;
    }
    place(heap, i, t);
}

static void heap_remove(cio_loop *loop, cio__timer *t)
{
    size_t i = t->index;
    cio__timer *last = loop->timers[--loop->ntimers];
    t->index = SIZE_MAX;
    if (last == t)
        return;
    place(loop->timers, i, last);
    if (i > 0 && before(last, loop->timers[(i - 1) / 2]))
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
        cio__timer **heap = cio__reallocarray(loop->timers, cap, sizeof(*heap));
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
    place(loop->timers, loop->ntimers++, t);
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
    return loop->ntimers ? loop->timers[0]->deadline : INT64_MAX;
}

void cio__timers_fire(cio_loop *loop)
{
    /* Timers armed by callbacks with a deadline already past fire on the
     * next iteration, not in this loop: that bounds the work per tick. */
    uint64_t seq_limit = loop->timer_seq;
    while (loop->ntimers) {
        cio__timer *t = loop->timers[0];
        if (t->deadline > loop->now || t->seq >= seq_limit)
            break;
        heap_remove(loop, t);
        t->cb(t);
    }
}
