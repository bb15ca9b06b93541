/* cio synchronisation primitives: Event, Lock, Condition, Semaphore,
 * BoundedSemaphore, Queue — asyncio's, for tasks of one loop.
 *
 * They live in caller memory; a zero-initialised object (or *_INIT) is
 * ready to use, except Queue which needs cio_queue_init.  Waiters are
 * served in FIFO order.  A waiter that is cancelled or times out leaves no
 * trace and never swallows a wake-up meant for another waiter: if it had
 * already been handed the event/lock/permit/item before the cancellation
 * arrived, the call succeeds and the cancellation is delivered by the
 * task's next blocking call.  Not thread-safe: use one loop's tasks only.
 */
#ifndef CIO_SYNC_H
#define CIO_SYNC_H

#ifndef CIO_H
#error "include <cio.h>, not <cio/sync.h>"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Event (asyncio.Event) -------------------------------------------- */

typedef struct cio_event {
    /* private */
    cio__node waiters;
    bool set;
} cio_event;
/* clang-format off */
#define CIO_EVENT_INIT {{0, 0}, false}
/* clang-format on */

/* Prepare an unset event (CIO_EVENT_INIT or zero-fill also do). */
CIO_EXTERN void cio_event_init(cio_event *e);
/* Set the flag and wake every waiter. */
CIO_EXTERN void cio_event_set(cio_event *e);
/* Reset the flag; waiters already woken still return 0. */
CIO_EXTERN void cio_event_clear(cio_event *e);
/* The flag (Event.is_set()). */
CIO_EXTERN bool cio_event_is_set(const cio_event *e);
/* Wait until set (returns at once if already set). */
CIO_EXTERN int cio_event_wait(cio_event *e);

/* ---- Lock (asyncio.Lock) ---------------------------------------------- */

typedef struct cio_lock {
    /* private */
    cio__node waiters;
    bool locked;
} cio_lock;
/* clang-format off */
#define CIO_LOCK_INIT {{0, 0}, false}
/* clang-format on */

/* Prepare an unlocked lock (CIO_LOCK_INIT or zero-fill also do). */
CIO_EXTERN void cio_lock_init(cio_lock *l);
/* Acquire; FIFO among waiters, no barging past queued waiters. */
CIO_EXTERN int cio_lock_acquire(cio_lock *l);
/* Acquire only if free: 0 or -EBUSY. */
CIO_EXTERN int cio_lock_try_acquire(cio_lock *l);
/* Release; hands the lock to the first waiter, which holds it from then on
 * (so locked() stays true).  Like asyncio's, the lock has no owner: any
 * task may release it.  CIO_ENOTLOCKED if it is not locked (asyncio's
 * RuntimeError). */
CIO_EXTERN int cio_lock_release(cio_lock *l);
/* True while the lock is held (Lock.locked()). */
CIO_EXTERN bool cio_lock_locked(const cio_lock *l);

/* ---- Condition (asyncio.Condition) ------------------------------------ */

typedef struct cio_cond {
    /* private */
    cio_lock *lock;
    cio__node waiters;
} cio_cond;
/* clang-format off */
#define CIO_COND_INIT(lockp) {(lockp), {0, 0}}
/* clang-format on */

/* lock: the lock this condition uses (required; must outlive it).  Unlike
 * asyncio there is no implicit lock: a condition without one reports
 * CIO_ENOTLOCKED from every call. */
CIO_EXTERN void cio_cond_init(cio_cond *c, cio_lock *lock);
/* Release the lock, wait for a notify, re-acquire the lock.  The lock is
 * re-acquired before returning even when the wait is cancelled or times
 * out (as in asyncio; the re-acquire itself cannot be interrupted), and
 * the interrupt error is returned then.  A waiter that was notified
 * returns 0 even if cancelled before it ran, so no notify is lost.
 * CIO_ENOTLOCKED if the lock is not held. */
CIO_EXTERN int cio_cond_wait(cio_cond *c);
/* Wait until pred(arg) is true (asyncio Condition.wait_for): pred is
 * evaluated first (with the lock held), then after every wake-up.  Returns
 * 0 or the first error of cio_cond_wait, with the lock held either way. */
CIO_EXTERN int cio_cond_wait_for(cio_cond *c, bool (*pred)(void *arg), void *arg);
/* Wake up to n waiters (notify) / all (notify_all), longest-waiting first.
 * They run once the lock is released.  CIO_ENOTLOCKED if the lock is not
 * held. */
CIO_EXTERN int cio_cond_notify(cio_cond *c, size_t n);
CIO_EXTERN int cio_cond_notify_all(cio_cond *c);

/* ---- Semaphore, BoundedSemaphore -------------------------------------- */

typedef struct cio_sem {
    /* private */
    cio__node waiters;
    size_t value;
    size_t bound; /* BoundedSemaphore: initial value + 1; 0: unbounded */
} cio_sem;
/* clang-format off */
#define CIO_SEM_INIT(n) {{0, 0}, (n), 0}
/* clang-format on */
/* clang-format off */
#define CIO_BOUNDED_SEM_INIT(n) {{0, 0}, (n), (size_t)(n) + 1}
/* clang-format on */

/* A Semaphore with value permits (CIO_SEM_INIT(n) also does). */
CIO_EXTERN void cio_sem_init(cio_sem *s, size_t value);
/* A BoundedSemaphore: releasing above the initial value is CIO_ESEMBOUND. */
CIO_EXTERN void cio_bounded_sem_init(cio_sem *s, size_t value);
/* Take a permit, waiting (FIFO) if none is free or other tasks already
 * wait: a release with waiters hands its permit to the first of them. */
CIO_EXTERN int cio_sem_acquire(cio_sem *s);
/* 0 or -EBUSY (no permit, or tasks are waiting for one). */
CIO_EXTERN int cio_sem_try_acquire(cio_sem *s);
/* Give a permit back (to the first waiter if any).  CIO_ESEMBOUND for a
 * BoundedSemaphore already at its initial value (the value is unchanged),
 * -EOVERFLOW if the value would exceed SIZE_MAX. */
CIO_EXTERN int cio_sem_release(cio_sem *s);
/* True if acquire would block (asyncio Semaphore.locked). */
CIO_EXTERN bool cio_sem_locked(const cio_sem *s);
/* Permits available now. */
CIO_EXTERN size_t cio_sem_value(const cio_sem *s);

/* ---- Queue (asyncio.Queue, LifoQueue, PriorityQueue) ------------------ */

enum cio_queue_kind { CIO_QUEUE_FIFO, CIO_QUEUE_LIFO, CIO_QUEUE_PRIORITY };

typedef struct cio_queue {
    /* private */
    cio__node getters, putters, joiners;
    void **items;
    uint64_t *seqs; /* priority: insertion order, so equal items stay FIFO */
    uint64_t next_seq;
    size_t head, count, cap, maxsize, unfinished;
    int (*cmp)(const void *a, const void *b);
    enum cio_queue_kind kind;
    bool shutdown;
} cio_queue;

/* maxsize 0 = unbounded.  cmp is required for CIO_QUEUE_PRIORITY (the
 * smallest item comes out first; equal items in insertion order) and must
 * be NULL otherwise.  cmp receives two items as passed to put (not
 * pointers to them, unlike qsort) and returns <0, 0, >0.  Storage is
 * allocated on demand, so this only validates: returns 0 or -EINVAL. */
CIO_EXTERN int cio_queue_init(cio_queue *q, enum cio_queue_kind kind, size_t maxsize,
                              int (*cmp)(const void *a, const void *b));
/* Free the queue's storage (items are not freed).  No task may be waiting. */
CIO_EXTERN void cio_queue_destroy(cio_queue *q);
/* Wait for a free slot, then add item (waiting putters are served in FIFO
 * order; a freed slot is handed to the first).  CIO_EQUEUESHUTDOWN after
 * shutdown, also for putters blocked when it happens (their items are not
 * added).  -ENOMEM if the storage cannot grow (it grows on demand, up to
 * maxsize); the queue is then unchanged. */
CIO_EXTERN int cio_queue_put(cio_queue *q, void *item);
/* CIO_EQUEUEFULL instead of waiting (also while putters are queued). */
CIO_EXTERN int cio_queue_put_nowait(cio_queue *q, void *item);
/* Wait for an item and store it in *item (item may be NULL to discard).
 * Waiting getters are served in FIFO order, each handed its item directly.
 * CIO_EQUEUESHUTDOWN once shut down and empty (at once after an immediate
 * shutdown, which empties the queue). */
CIO_EXTERN int cio_queue_get(cio_queue *q, void **item);
/* CIO_EQUEUEEMPTY instead of waiting (CIO_EQUEUESHUTDOWN if shut down). */
CIO_EXTERN int cio_queue_get_nowait(cio_queue *q, void **item);
/* Mark one item taken by get as processed.  -EINVAL if called more times
 * than items were put (asyncio's ValueError). */
CIO_EXTERN int cio_queue_task_done(cio_queue *q);
/* Wait until every item put has been marked done. */
CIO_EXTERN int cio_queue_join(cio_queue *q);
/* asyncio 3.13 Queue.shutdown: puts fail from now on, gets fail once the
 * queue is empty; every blocked putter and getter is woken.  immediate
 * also discards the queued items (counting them as done, so join
 * returns) and makes gets fail at once. */
CIO_EXTERN void cio_queue_shutdown(cio_queue *q, bool immediate);
/* Items queued now (Queue.qsize()). */
CIO_EXTERN size_t cio_queue_size(const cio_queue *q);
/* The bound given at init; 0 = unbounded (Queue.maxsize). */
CIO_EXTERN size_t cio_queue_maxsize(const cio_queue *q);
/* No items queued (Queue.empty()). */
CIO_EXTERN bool cio_queue_empty(const cio_queue *q);
/* maxsize items queued (Queue.full(); never for unbounded queues). */
CIO_EXTERN bool cio_queue_full(const cio_queue *q);

#ifdef __cplusplus
}
#endif

#endif
