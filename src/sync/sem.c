/* asyncio.Semaphore and asyncio.BoundedSemaphore.
 *
 * Permits are handed over directly, as asyncio 3.13's _wake_up_next does
 * (it decrements the value on the waiter's behalf): release() with waiters
 * queued gives the permit to the first one and leaves the value at 0.  So
 * nobody barges past queued waiters, a waiter interrupted before it was
 * picked holds nothing to give back (cio__wait_on has unlinked it), and one
 * picked first returns 0.
 *
 * An interrupted waiter may stay linked until it runs.  If wakers pass over
 * it, a permit can be free while a newcomer queued behind it, so a waiter
 * leaving with an error hands free permits on (asyncio's acquire does the
 * same in its finally clause).
 *
 * The private `bound` field stores the BoundedSemaphore limit plus one so
 * that a zero-filled semaphore is unbounded and BoundedSemaphore(0) stays
 * representable. */
#include "core/internal.h"

void cio_sem_init(cio_sem *s, size_t value)
{
    s->waiters.prev = s->waiters.next = NULL;
    s->value = value;
    s->bound = 0;
}

void cio_bounded_sem_init(cio_sem *s, size_t value)
{
    cio_sem_init(s, value);
    /* value == SIZE_MAX wraps to "unbounded", which is the same thing: the
     * value cannot grow past SIZE_MAX either way (-EOVERFLOW). */
    s->bound = value + 1;
}

bool cio_sem_locked(const cio_sem *s)
{
    return s->value == 0 || !cio__list_empty(&s->waiters);
}

size_t cio_sem_value(const cio_sem *s)
{
    return s->value;
}

/* Hand free permits to queued waiters, first come first served. */
static void sem_wake(cio_sem *s)
{
    while (s->value > 0 && cio__wake_first(&s->waiters, 0) != NULL)
        s->value--;
}

int cio_sem_acquire(cio_sem *s)
{
    /* Free permit and nobody queued: take it without suspending, as
     * asyncio does (a pending cancellation hits the next blocking call). */
    if (!cio_sem_locked(s)) {
        s->value--;
        return 0;
    }
    cio__waiter w = {0};
    /* 0: a permit was handed to us (the value was decremented for us). */
    int rc = cio__wait_on(&s->waiters, &w);
    if (rc < 0)
        sem_wake(s);
    return rc;
}

int cio_sem_try_acquire(cio_sem *s)
{
    if (cio_sem_locked(s))
        return -EBUSY;
    s->value--;
    return 0;
}

int cio_sem_release(cio_sem *s)
{
    /* asyncio checks the bound before anything else, even with waiters
     * (only BoundedSemaphore(0) can hit it then). */
    if (s->bound != 0 && s->value >= s->bound - 1)
        return CIO_ESEMBOUND;
    if (s->value == SIZE_MAX)
        return -EOVERFLOW;
    s->value++;
    sem_wake(s);
    return 0;
}
