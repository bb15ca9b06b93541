/* Cross-file internals of cio: the loop, tasks, timers, waits and I/O
 * watchers.  Everything here is cio__-prefixed and not installed. */
#ifndef CIO_INTERNAL_H
#define CIO_INTERNAL_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "cio.h"
#include "sys/list.h"
#include "sys/sys.h"

/* ---- time -------------------------------------------------------------- */

int64_t cio__clock_ns(void); /* CLOCK_MONOTONIC now */
int64_t cio__now(void);      /* the loop's cached time (ns), refreshed each iteration */
int64_t cio__deadline_after(double seconds); /* now + seconds; INT64_MAX for < 0, inf or nan */

/* ---- timers (intrusive min-heap; equal deadlines fire in FIFO order) --- */

/* Arm t to call t->cb at deadline (monotonic ns) on the current loop.  An
 * armed timer is re-armed.  Returns 0 or -ENOMEM (heap growth). */
int cio__timer_start(cio__timer *t, int64_t deadline, void (*cb)(cio__timer *));
void cio__timer_stop(cio__timer *t);
static inline bool cio__timer_armed(const cio__timer *t)
{
    return t->index != SIZE_MAX && t->cb != NULL;
}
static inline void cio__timer_init(cio__timer *t)
{
    t->index = SIZE_MAX;
    t->cb = NULL;
}

/* ---- suspending and waking tasks --------------------------------------- */

/* 0 if the task may block; -ECANCELED or -ETIMEDOUT if its blocking calls
 * must fail now (cancellation or an expired scope, unless shielded). */
int cio__interrupted(const cio_task *t);

/* Suspend the current task until cio__unpark(), or until it is cancelled
 * or a timeout scope expires.  Returns 0 when unparked, or the interrupt
 * error; if the task is already interrupted it returns at once without
 * suspending.  Callers must undo their registration on error. */
int cio__park(void);
/* Suspend uninterruptibly (used where the wake-up must be awaited, e.g. a
 * worker thread holding the task's memory). */
void cio__park_uninterruptible(void);
/* Make a parked task runnable; the first wake wins, later ones (including
 * interrupts) are ignored until it runs.  No-op if t is not parked. */
void cio__unpark(cio_task *t);

/* A task waiting in a queue of waiters (sync primitives). */
typedef struct cio__waiter {
    cio__node node;
    cio_task *task;
    intptr_t value; /* set by the waker */
} cio__waiter;

/* Append the current task to q and park.  Returns 0 when woken by
 * cio__wake_first/all (w->value holds what the waker passed), or the
 * interrupt error, in which case w has been removed from q. */
int cio__wait_on(cio__node *q, cio__waiter *w);
/* Unlink the first waiter of q, set its value, wake it.  Returns the
 * waiter, or NULL if q is empty. */
cio__waiter *cio__wake_first(cio__node *q, intptr_t value);
void cio__wake_all(cio__node *q, intptr_t value);

/* ---- the loop ------------------------------------------------------------ */

cio_loop *cio__loop(void);    /* the current thread's loop (NULL outside cio_run) */
cio_task *cio__current(void); /* the running task (NULL in loop context) */

/* Run fn(arg) in loop context on the next iteration (from the loop thread). */
int cio__call_soon(void (*fn)(void *), void *arg);

/* ---- I/O watchers -------------------------------------------------------- */

/* Register fd with the loop's backend.  Returns 0, -ENOMEM, -EBADF... */
int cio__io_open(cio__io *io, int fd);
/* Deregister (does not close fd).  Parked waiters are woken with -EBADF. */
void cio__io_close(cio__io *io);
/* Run op (backend.h) on io in the calling task: its result once it
 * completes, -EEXIST when another operation waits in its direction,
 * -EBADF when io is closed meanwhile, or the interrupt (-ECANCELED,
 * -ETIMEDOUT) when it was withdrawn before completing.  A completed
 * operation's result is never lost to an interrupt. */
ssize_t cio__io_run(cio__io *io, cio__op *op);
/* Park until fd is ready in direction dir (CIO__IO_READ/WRITE): a poll
 * operation.  Returns 0, -EEXIST, -EBADF, or an interrupt. */
int cio__io_wait(cio__io *io, int dir);

/* ---- handles: resources the loop can list (libuv's uv_walk) ---------- */

typedef struct cio__handle cio__handle;
typedef struct cio__handle_type {
    const char *kind;
    /* Debug mode, at loop close: report h as leaked and free what h
     * itself allocated (h is already out of the registry). */
    void (*report_leak)(cio__handle *h);
} cio__handle_type;
struct cio__handle {
    cio__node node; /* loop->handles */
    const cio__handle_type *type;
};
void cio__handle_add(cio_loop *loop, cio__handle *h, const cio__handle_type *type);
void cio__handle_remove(cio__handle *h);

/* ---- cross-thread wake-ups and the thread pool ----------------------- */

/* ---- async (src/async.c): the loop's cross-thread queue ---- */
int cio__async_init(cio_loop *loop);   /* create the eventfd and loop->async */
void cio__async_term(cio_loop *loop);  /* run nothing more; free queued entries; close eventfd */
int cio__async_fd(cio_loop *loop);     /* the eventfd the loop watches */
void cio__async_drain(cio_loop *loop); /* read the eventfd, run queued calls in FIFO order */
/* Ensure the loop keeps running while work from other threads is due. */
void cio__loop_ref(cio_loop *loop);
void cio__loop_unref(cio_loop *loop);

/* Run fn(arg) on a pool worker, waiting as cio_to_thread does; dns selects
 * the name-resolution share of the pool. */
int cio__to_thread(intptr_t (*fn)(void *), void *arg, intptr_t *result, bool dns);

/* ---- async (src/async.c) ------------------------------------------------ */

/* The loop core watches cio__async_fd for readability and then calls
 * cio__async_drain (declared above), which runs the calls queued before
 * it; calls queued while draining run on the next drain. */

/* An allocation-free cross-thread call: the caller owns the entry, which
 * must stay valid until fn runs.  Used for thread-pool completions, where
 * an -ENOMEM would strand the waiting task.  Returns 0, -ESHUTDOWN, or
 * (only under fault injection) the eventfd write error. */
typedef struct cio__async_entry {
    cio__node node;
    void (*fn)(void *arg);
    void *arg;
    bool heap; /* allocated by cio_call_soon_threadsafe: freed after running */
} cio__async_entry;
int cio__async_post(cio_loop *loop, cio__async_entry *e);
/* ---- end of async block ------------------------------------------------- */

/* ---- stacks ---------------------------------------------------------------- */

typedef struct cio__stack {
    void *base; /* lowest usable address (guard page is just below) */
    size_t size;
    struct cio__stack_chunk *chunk;
    cio__node free_node;
} cio__stack;

typedef struct cio__stack_pool cio__stack_pool;
cio__stack_pool *cio__stack_pool_new(void);
void cio__stack_pool_free(cio__stack_pool *pool);
int cio__stack_get(cio__stack_pool *pool, size_t size, cio__stack **out);
void cio__stack_put(cio__stack_pool *pool, cio__stack *stack);
/* Install the SIGSEGV overflow reporter for this thread. */
int cio__stack_overflow_handler_install(void);
void cio__stack_overflow_handler_remove(void);
/* Is addr inside the guard page of stack? */
bool cio__stack_in_guard(const cio__stack *stack, const void *addr);

/* ---- errors ------------------------------------------------------------------ */

/* Map a getaddrinfo EAI_* code to CIO_EAI_*. */
int cio__eai_to_err(int eai, int saved_errno);

#endif
