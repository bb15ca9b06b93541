/* asyncio.Lock and asyncio.Condition.
 *
 * The lock is handed over directly: release() with waiters queued keeps
 * `locked` true and makes the first waiter the holder before it even runs.
 * That gives asyncio's FIFO fairness (nobody can barge in between the
 * release and the waiter running) and makes cancellation safe under the
 * "first wake wins" rule of cio__wait_on: a waiter is either still queued
 * when interrupted (then cio__wait_on unlinks it and it never owned the
 * lock) or it was woken first and owns the lock, returning 0.  Live waiters
 * are queued only while the lock is held; an interrupted waiter may stay
 * linked until it runs, which is harmless because a free lock is taken
 * without looking at the queue.
 *
 * Like asyncio's, the lock has no owner: any task may release it. */
#include "core/internal.h"

void cio_lock_init(cio_lock *l)
{
    l->waiters.prev = l->waiters.next = NULL;
    l->locked = false;
}

int cio_lock_acquire(cio_lock *l)
{
    /* asyncio takes a free lock without suspending, so a pending
     * cancellation is delivered by the next blocking call instead. */
    if (!l->locked) {
        l->locked = true;
        return 0;
    }
    cio__waiter w = {0};
    /* 0: release() handed us the lock (l->locked stayed true for us). */
    return cio__wait_on(&l->waiters, &w);
}

int cio_lock_try_acquire(cio_lock *l)
{
    if (l->locked)
        return -EBUSY;
    l->locked = true;
    return 0;
}

int cio_lock_release(cio_lock *l)
{
    if (!l->locked)
        return CIO_ENOTLOCKED;
    if (cio__wake_first(&l->waiters, 0) == NULL)
        l->locked = false;
    return 0;
}

bool cio_lock_locked(const cio_lock *l)
{
    return l->locked;
}

/* ---- Condition ------------------------------------------------------------ */

void cio_cond_init(cio_cond *c, cio_lock *lock)
{
    c->lock = lock;
    c->waiters.prev = c->waiters.next = NULL;
}

static bool cond_held(const cio_cond *c)
{
    return c->lock != NULL && c->lock->locked;
}

int cio_cond_wait(cio_cond *c)
{
    if (!cond_held(c))
        return CIO_ENOTLOCKED;

    cio_lock_release(c->lock);
    cio__waiter w = {0};
    /* 0 means a notify picked us; an interrupt means no notify was
     * consumed (cio__wait_on unlinked us first), so none is lost. */
    int rc = cio__wait_on(&c->waiters, &w);

    /* The caller must get the lock back whatever happened, as asyncio's
     * wait() loops on acquire() until it succeeds.  A shielded scope with
     * no deadline makes the acquire immune to cancellation and to outer
     * timeouts, so it can only succeed; the interrupt (if any) is then
     * reported, and stays pending for the next blocking call. */
    cio_timeout shield;
    cio_shield_enter(&shield, -1);
    int arc = cio_lock_acquire(c->lock);
    cio_timeout_exit(&shield);
    assert(arc == 0);
    (void)arc;
    return rc;
}

int cio_cond_wait_for(cio_cond *c, bool (*pred)(void *arg), void *arg)
{
    /* asyncio evaluates the predicate first: if it already holds, no wait
     * (and no lock check) happens. */
    while (!pred(arg)) {
        int rc = cio_cond_wait(c);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int cio_cond_notify(cio_cond *c, size_t n)
{
    if (!cond_held(c))
        return CIO_ENOTLOCKED;
    /* Every queued waiter is live: interrupted ones unlink themselves. */
    while (n > 0 && cio__wake_first(&c->waiters, 0) != NULL)
        n--;
    return 0;
}

int cio_cond_notify_all(cio_cond *c)
{
    if (!cond_held(c))
        return CIO_ENOTLOCKED;
    cio__wake_all(&c->waiters, 0);
    return 0;
}
