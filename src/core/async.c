/* The loop's cross-thread queue: cio_call_soon_threadsafe.
 *
 * Any thread appends an entry to a mutex-protected FIFO and, if the queue
 * was empty, writes the loop's eventfd.  The loop core watches the eventfd
 * and, when it is readable, calls cio__async_drain on the loop thread,
 * which runs the queued calls in order.  Only the empty -> non-empty
 * transition writes the eventfd: the drain takes the whole queue at once,
 * so one wake-up covers every entry queued before it, and producers that
 * find entries already queued know a wake-up is already on its way.
 *
 * Lifetime: the caller of cio_call_soon_threadsafe must know the loop
 * still exists (as with asyncio, calling into a loop that has been closed
 * and freed is a bug).  Between cio__async_term and the loop being freed,
 * calls fail with -ESHUTDOWN.  The thread pool keeps the loop alive with
 * cio__loop_ref while a completion is due, so it never hits that window.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/loop.h"

typedef struct cio__async {
    pthread_mutex_t mu;
    cio__node queue; /* of cio__async_entry, guarded by mu */
    int efd;
    bool closing; /* guarded by mu: set by term, refuses new entries */
} cio__async;

static cio__async *async_of(cio_loop *loop)
{
    return loop->async;
}

int cio__async_init(cio_loop *loop)
{
    cio__async *a = cio__calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->efd = cio__eventfd();
    if (a->efd < 0) {
        int err = cio__err();
        cio__free(a);
        return err;
    }
    int rc = pthread_mutex_init(&a->mu, NULL);
    if (rc != 0) {
        cio__close(a->efd);
        cio__free(a);
        return -rc;
    }
    cio__list_init(&a->queue);
    loop->async = a;
    return 0;
}

void cio__async_term(cio_loop *loop)
{
    cio__async *a = async_of(loop);
    if (!a)
        return;
    cio__node pending;
    cio__list_init(&pending);

    /* Refuse new entries first, under the lock, so no producer can be
     * writing the eventfd while we close it. */
    pthread_mutex_lock(&a->mu);
    a->closing = true;
    cio__node *n;
    while ((n = cio__list_pop_front(&a->queue)) != NULL)
        cio__list_push_back(&pending, n);
    pthread_mutex_unlock(&a->mu);

    /* Queued calls are dropped, not run: the loop is going away and the
     * contract says fn does not run once the loop is closing.  Entries
     * owned by their poster (cio__async_post) are only unlinked. */
    while ((n = cio__list_pop_front(&pending)) != NULL) {
        cio__async_entry *e = cio__container_of(n, cio__async_entry, node);
        if (e->heap)
            cio__free(e);
    }

    cio__close(a->efd);
    pthread_mutex_destroy(&a->mu);
    loop->async = NULL;
    cio__free(a);
}

int cio__async_fd(cio_loop *loop)
{
    cio__async *a = async_of(loop);
    return a ? a->efd : -1;
}

int cio__async_post(cio_loop *loop, cio__async_entry *e)
{
    cio__async *a = async_of(loop);
    if (!a)
        return -ESHUTDOWN;

    pthread_mutex_lock(&a->mu);
    if (a->closing) {
        pthread_mutex_unlock(&a->mu);
        return -ESHUTDOWN;
    }
    bool was_empty = cio__list_empty(&a->queue);
    cio__list_push_back(&a->queue, &e->node);
    if (was_empty) {
        /* Written under the lock so term cannot close (and the process
         * reuse) the fd under us.  EAGAIN means the counter is saturated,
         * which still leaves it readable: nothing is lost.  Any other
         * failure (only possible through fault injection) would strand
         * the entry with no wake-up, so it is taken back and reported. */
        uint64_t one = 1;
        if (cio__write(a->efd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
            int err = cio__err();
            cio__list_remove(&e->node);
            pthread_mutex_unlock(&a->mu);
            return err;
        }
    }
    pthread_mutex_unlock(&a->mu);
    /* From here on e belongs to the loop thread, which may already have
     * run (and its owner freed) it: do not touch e. */
    return 0;
}

int cio_call_soon_threadsafe(cio_loop *loop, void (*fn)(void *arg), void *arg)
{
    if (!loop || !fn)
        return -EINVAL;
    cio__async_entry *e = cio__malloc(sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->node.next = e->node.prev = NULL;
    e->fn = fn;
    e->arg = arg;
    e->heap = true;
    int rc = cio__async_post(loop, e);
    if (rc < 0)
        cio__free(e);
    return rc;
}

void cio__async_drain(cio_loop *loop)
{
    cio__async *a = async_of(loop);
    if (!a)
        return;

    /* Reset the counter before taking the queue: an entry pushed after
     * the read either is in the batch taken below or was pushed onto an
     * empty queue after it and wrote the eventfd again, so no wake-up is
     * lost.  Spurious wake-ups (an empty batch) are harmless. */
    uint64_t count;
    (void)cio__read(a->efd, &count, sizeof(count));

    cio__node batch;
    cio__list_init(&batch);
    pthread_mutex_lock(&a->mu);
    if (!cio__list_empty(&a->queue)) {
        /* Splice the whole queue into batch in O(1). */
        batch.next = a->queue.next;
        batch.prev = a->queue.prev;
        batch.next->prev = &batch;
        batch.prev->next = &batch;
        cio__list_init(&a->queue);
    }
    pthread_mutex_unlock(&a->mu);

    /* Run outside the lock: fn may call cio_call_soon_threadsafe itself
     * (that entry runs on the next drain, so a self-rescheduling fn cannot
     * starve the loop). */
    cio__node *n;
    while ((n = cio__list_pop_front(&batch)) != NULL) {
        cio__async_entry *e = cio__container_of(n, cio__async_entry, node);
        void (*fn)(void *) = e->fn;
        void *arg = e->arg;
        /* Free (or hand back) the entry before the call: a poster-owned
         * entry may be released by fn itself. */
        if (e->heap)
            cio__free(e);
        fn(arg);
    }
}
