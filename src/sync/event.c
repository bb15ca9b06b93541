/* asyncio.Event: a flag that tasks wait for.
 *
 * set() wakes every waiter at once; a waiter woken that way returns 0 even
 * if the flag is cleared again before it runs (asyncio: the waiter's
 * future already holds True).  A waiter interrupted before set() runs has
 * been unlinked by cio__wait_on, so it leaves nothing behind. */
#include "core/internal.h"

void cio_event_init(cio_event *e)
{
    e->waiters.prev = e->waiters.next = NULL;
    e->set = false;
}

void cio_event_set(cio_event *e)
{
    if (e->set)
        return;
    e->set = true;
    cio__wake_all(&e->waiters, 0);
}

void cio_event_clear(cio_event *e)
{
    e->set = false;
}

bool cio_event_is_set(const cio_event *e)
{
    return e->set;
}

int cio_event_wait(cio_event *e)
{
    /* Like asyncio, a set event returns at once without a suspension point,
     * so a pending cancellation is left for the next blocking call. */
    if (e->set)
        return 0;
    cio__waiter w = {0};
    return cio__wait_on(&e->waiters, &w);
}
