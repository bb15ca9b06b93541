/* Small helpers shared by test_sync.c and test_queue.c. */
#ifndef CIO_TEST_SYNC_HELPERS_H
#define CIO_TEST_SYNC_HELPERS_H

#include <criterion/criterion.h>
#include <errno.h>

#include "cio.h"

/* Records the order in which tasks did something. */
typedef struct order_log {
    int v[64];
    int n;
} order_log;

static inline void log_push(order_log *l, int x)
{
    cr_assert_lt(l->n, 64);
    l->v[l->n++] = x;
}

static inline void log_expect(const order_log *l, const int *want, int n)
{
    cr_assert_eq(l->n, n, "log has %d entries, want %d", l->n, n);
    for (int i = 0; i < n; i++)
        cr_assert_eq(l->v[i], want[i], "log[%d] = %d, want %d", i, l->v[i], want[i]);
}

static inline cio_task *spawn(cio_task_fn fn, void *arg)
{
    cio_task *t = NULL;
    cr_assert_eq(cio_spawn(&t, fn, arg, NULL), 0);
    return t;
}

/* Join t and return its result. */
static inline intptr_t join(cio_task *t)
{
    intptr_t r = -12345;
    int rc = cio_join(t, &r);
    cr_assert_eq(rc, 0, "cio_join: %s", cio_strerror(rc));
    return r;
}

/* Yield until *counter reaches want (tasks bump it right before they
 * block, so once it does they are all queued).  Bounded, so a bug shows as
 * a failed assertion instead of a hang. */
static inline void yield_until(const int *counter, int want)
{
    for (int i = 0; i < 1000 && *counter < want; i++)
        cr_assert_eq(cio_yield(), 0);
    cr_assert_eq(*counter, want, "only %d of %d tasks got there", *counter, want);
}

/* Cancel a task blocked in a wait.  Unless same_step, let it run and
 * finish first, so it has left the wait queue before the caller wakes
 * anyone; with same_step the wake-up comes while it is merely interrupted
 * and must still skip it. */
static inline void cancel_waiter(cio_task *t, bool same_step)
{
    cio_cancel(t);
    for (int i = 0; i < 1000 && !same_step && !cio_task_done(t); i++)
        cr_assert_eq(cio_yield(), 0);
    cr_assert(same_step || cio_task_done(t));
}

static inline void yield_n(int n)
{
    for (int i = 0; i < n; i++)
        cr_assert_eq(cio_yield(), 0);
}

/* A task that makes one blocking call (op) and records what happened.
 * started is bumped right before op, so once the main task sees it the
 * worker is queued (op blocks without yielding first).  After op the
 * worker yields once; rc_next records that yield's result, which shows a
 * cancellation that arrived after op had already succeeded.  Then `after`
 * (if any) runs, e.g. to release what op acquired. */
typedef struct worker worker;
struct worker {
    int id;
    int *started;   /* may be NULL */
    order_log *log; /* id is logged when op returns 0; may be NULL */
    int (*op)(worker *w);
    void (*after)(worker *w);
    void *obj, *obj2; /* the primitive(s) op works on */
    double timeout;   /* > 0: op runs inside a timeout scope of that length */
    void *item;       /* queue: the item to put, or the item got */
    int rc, rc_next;
    bool expired, held;
};

static inline intptr_t worker_main(void *arg)
{
    worker *w = arg;
    cio_timeout scope;
    if (w->timeout > 0)
        cio_timeout_enter(&scope, w->timeout);
    if (w->started)
        (*w->started)++;
    w->rc = w->op(w);
    if (w->timeout > 0)
        w->expired = cio_timeout_exit(&scope);
    if (w->rc == 0 && w->log)
        log_push(w->log, w->id);
    w->rc_next = cio_yield();
    if (w->after)
        w->after(w);
    return 0;
}

static inline cio_task *spawn_worker(worker *w)
{
    return spawn(worker_main, w);
}

static inline void join_worker(cio_task *t)
{
    cr_assert_eq(join(t), 0);
}

/* Run fn as the main task of a fresh loop and require it to return 0. */
#define RUN_MAIN(fn, arg)                                                                          \
    do {                                                                                           \
        intptr_t run_rc_ = cio_run((fn), (arg));                                                   \
        cr_assert_eq(run_rc_, 0, "main returned %ld", (long)run_rc_);                              \
    } while (0)

/* The "_same_step" tests cancel a waiter and wake its wait queue before
 * the waiter runs again.  asyncio then skips the cancelled waiter; the
 * runtime core currently leaves an interrupted waiter linked until it runs,
 * so cio__wake_first picks it and the later wake-up wins over the earlier
 * cancellation (nothing is lost, but the next waiter is not served).  Set
 * to 1 once cio__wake_first skips waiters already woken by an interrupt. */
#ifndef CIO_TEST_WAKE_SKIPS_INTERRUPTED
#define CIO_TEST_WAKE_SKIPS_INTERRUPTED 1
#endif

/* Like MAIN_TEST_ARG for the same-step variants, disabled until then. */
#define SAME_STEP_TEST(suite, name, fn)                                                            \
    Test(suite, name, .timeout = 20, .disabled = !CIO_TEST_WAKE_SKIPS_INTERRUPTED)                 \
    {                                                                                              \
        bool arg_ = true;                                                                          \
        RUN_MAIN(fn, &arg_);                                                                       \
    }

/* A Criterion test that runs fn(&value) (or fn(NULL)) as the main task.
 * The timeout turns a lost wake-up into a failure instead of a hang. */
#define MAIN_TEST(suite, name, fn)                                                                 \
    Test(suite, name, .timeout = 20)                                                               \
    {                                                                                              \
        RUN_MAIN(fn, NULL);                                                                        \
    }
#define MAIN_TEST_ARG(suite, name, fn, type, value)                                                \
    Test(suite, name, .timeout = 20)                                                               \
    {                                                                                              \
        type arg_ = (value);                                                                       \
        RUN_MAIN(fn, &arg_);                                                                       \
    }

#endif
