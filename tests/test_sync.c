/* Event, Lock, Condition, Semaphore, BoundedSemaphore: asyncio semantics,
 * FIFO fairness, and the cancellation/timeout guarantees of cio/sync.h. */
#include <criterion/criterion.h>

#include "cio.h"
#include "sync_helpers.h"

#define NW 4

/* ---- Event ------------------------------------------------------------------ */

static int ev_wait_op(worker *w)
{
    return cio_event_wait(w->obj);
}

static intptr_t event_basic_main(void *arg)
{
    (void)arg;
    cio_event e = CIO_EVENT_INIT, e2;
    cio_event_init(&e2);
    cr_assert(!cio_event_is_set(&e) && !cio_event_is_set(&e2));
    cio_event_set(&e);
    cr_assert(cio_event_is_set(&e));
    cr_assert_eq(cio_event_wait(&e), 0, "a set event returns at once");
    cio_event_set(&e); /* idempotent */
    cio_event_clear(&e);
    cr_assert(!cio_event_is_set(&e));
    return 0;
}
MAIN_TEST(event, basic, event_basic_main)

static intptr_t event_wakes_all_main(void *arg)
{
    (void)arg;
    cio_event e = CIO_EVENT_INIT;
    order_log log = {0};
    int started = 0;
    worker w[NW];
    cio_task *t[NW];
    for (int i = 0; i < NW; i++) {
        w[i] = (worker){.id = i, .started = &started, .log = &log, .op = ev_wait_op, .obj = &e};
        t[i] = spawn_worker(&w[i]);
    }
    yield_until(&started, NW);
    yield_n(3);
    cr_assert_eq(log.n, 0, "nobody passes an unset event");
    cio_event_set(&e);
    /* Cleared before the woken waiters run: they were woken, so they pass. */
    cio_event_clear(&e);
    for (int i = 0; i < NW; i++) {
        join_worker(t[i]);
        cr_assert_eq(w[i].rc, 0);
    }
    log_expect(&log, (int[]){0, 1, 2, 3}, NW);
    cr_assert(!cio_event_is_set(&e));
    return 0;
}
MAIN_TEST(event, set_wakes_all_in_fifo_order, event_wakes_all_main)

static intptr_t event_cancel_main(void *arg)
{
    (void)arg;
    cio_event e = CIO_EVENT_INIT;
    int started = 0;
    worker a = {.id = 0, .started = &started, .op = ev_wait_op, .obj = &e};
    worker b = {.id = 1, .started = &started, .op = ev_wait_op, .obj = &e};
    worker c = {.id = 2, .started = &started, .op = ev_wait_op, .obj = &e, .timeout = 0.01};
    cio_task *ta = spawn_worker(&a), *tb = spawn_worker(&b), *tc = spawn_worker(&c);
    yield_until(&started, 3);
    cio_cancel(ta);
    join_worker(ta);
    cr_assert_eq(a.rc, -ECANCELED);
    join_worker(tc);
    cr_assert_eq(c.rc, -ETIMEDOUT);
    cr_assert(c.expired);
    cr_assert(!cio_task_done(tb), "b still waits");
    cio_event_set(&e);
    join_worker(tb);
    cr_assert_eq(b.rc, 0);
    return 0;
}
MAIN_TEST(event, cancelled_and_timed_out_waiters, event_cancel_main)

static intptr_t event_set_then_cancel_main(void *arg)
{
    (void)arg;
    cio_event e = CIO_EVENT_INIT;
    int started = 0;
    worker a = {.started = &started, .op = ev_wait_op, .obj = &e};
    cio_task *ta = spawn_worker(&a);
    yield_until(&started, 1);
    cio_event_set(&e);
    cio_cancel(ta); /* too late: the wait was already satisfied */
    join_worker(ta);
    cr_assert_eq(a.rc, 0);
    cr_assert_eq(a.rc_next, -ECANCELED, "the cancellation hits the next blocking call");
    return 0;
}
MAIN_TEST(event, woken_then_cancelled_returns_0, event_set_then_cancel_main)

/* ---- Lock ------------------------------------------------------------------- */

static int lock_op(worker *w)
{
    return cio_lock_acquire(w->obj);
}

static void lock_after(worker *w)
{
    if (w->rc == 0)
        cr_assert_eq(cio_lock_release(w->obj), 0);
}

static worker lock_worker(int id, cio_lock *l, int *started, order_log *log)
{
    return (worker){
        .id = id, .started = started, .log = log, .op = lock_op, .after = lock_after, .obj = l};
}

static intptr_t lock_basic_main(void *arg)
{
    (void)arg;
    cio_lock l = CIO_LOCK_INIT, l2;
    cio_lock_init(&l2);
    cr_assert(!cio_lock_locked(&l) && !cio_lock_locked(&l2));
    cr_assert_eq(cio_lock_release(&l), CIO_ENOTLOCKED);
    cr_assert_eq(cio_lock_acquire(&l), 0);
    cr_assert(cio_lock_locked(&l));
    cr_assert_eq(cio_lock_try_acquire(&l), -EBUSY);
    cr_assert_eq(cio_lock_release(&l), 0);
    cr_assert(!cio_lock_locked(&l));
    cr_assert_eq(cio_lock_release(&l), CIO_ENOTLOCKED);
    cr_assert_eq(cio_lock_try_acquire(&l), 0);
    cr_assert(cio_lock_locked(&l));
    cr_assert_eq(cio_lock_release(&l), 0);
    return 0;
}
MAIN_TEST(lock, basic, lock_basic_main)

static intptr_t lock_fifo_main(void *arg)
{
    (void)arg;
    cio_lock l = CIO_LOCK_INIT;
    order_log log = {0};
    int started = 0;
    worker w[NW];
    cio_task *t[NW];
    cr_assert_eq(cio_lock_acquire(&l), 0);
    for (int i = 0; i < NW; i++) {
        w[i] = lock_worker(i, &l, &started, &log);
        t[i] = spawn_worker(&w[i]);
    }
    yield_until(&started, NW);
    cr_assert_eq(cio_lock_release(&l), 0);
    /* Handed to worker 0 before it runs: no barging, even by the releaser. */
    cr_assert(cio_lock_locked(&l));
    cr_assert_eq(cio_lock_try_acquire(&l), -EBUSY);
    for (int i = 0; i < NW; i++) {
        join_worker(t[i]);
        cr_assert_eq(w[i].rc, 0);
    }
    log_expect(&log, (int[]){0, 1, 2, 3}, NW);
    cr_assert(!cio_lock_locked(&l));
    return 0;
}
MAIN_TEST(lock, fifo_and_no_barging, lock_fifo_main)

static intptr_t lock_cancel_main(void *arg)
{
    bool same_step = *(bool *)arg;
    cio_lock l = CIO_LOCK_INIT;
    order_log log = {0};
    int started = 0;
    worker a = lock_worker(0, &l, &started, &log), b = lock_worker(1, &l, &started, &log);
    cr_assert_eq(cio_lock_acquire(&l), 0);
    cio_task *ta = spawn_worker(&a), *tb = spawn_worker(&b);
    yield_until(&started, 2);
    /* Cancel A, then release: the lock must go to B. */
    cancel_waiter(ta, same_step);
    cr_assert_eq(cio_lock_release(&l), 0);
    join_worker(ta);
    join_worker(tb);
    cr_assert_eq(a.rc, -ECANCELED);
    cr_assert_eq(b.rc, 0);
    log_expect(&log, (int[]){1}, 1);
    cr_assert(!cio_lock_locked(&l));

    /* Cancelling the only waiter leaves no trace: release frees the lock. */
    worker c = lock_worker(2, &l, &started, &log);
    cr_assert_eq(cio_lock_acquire(&l), 0);
    cio_task *tc = spawn_worker(&c);
    yield_until(&started, 3);
    cio_cancel(tc);
    join_worker(tc);
    cr_assert_eq(c.rc, -ECANCELED);
    cr_assert_eq(cio_lock_release(&l), 0);
    cr_assert(!cio_lock_locked(&l));
    return 0;
}
MAIN_TEST_ARG(lock, cancelled_waiter_skipped, lock_cancel_main, bool, false)
SAME_STEP_TEST(lock, cancelled_waiter_skipped_same_step, lock_cancel_main)

static intptr_t lock_handoff_cancel_main(void *arg)
{
    (void)arg;
    cio_lock l = CIO_LOCK_INIT;
    int started = 0;
    worker a = lock_worker(0, &l, &started, NULL);
    cr_assert_eq(cio_lock_acquire(&l), 0);
    cio_task *ta = spawn_worker(&a);
    yield_until(&started, 1);
    cr_assert_eq(cio_lock_release(&l), 0); /* A owns it now */
    cio_cancel(ta);
    join_worker(ta);
    cr_assert_eq(a.rc, 0, "handed the lock before the cancel: acquire succeeds");
    cr_assert_eq(a.rc_next, -ECANCELED);
    cr_assert(!cio_lock_locked(&l), "A released it");
    return 0;
}
MAIN_TEST(lock, handed_off_then_cancelled_returns_0, lock_handoff_cancel_main)

static intptr_t lock_timeout_main(void *arg)
{
    (void)arg;
    cio_lock l = CIO_LOCK_INIT;
    int started = 0;
    worker a = lock_worker(0, &l, &started, NULL);
    a.timeout = 0.01;
    worker b = lock_worker(1, &l, &started, NULL);
    cr_assert_eq(cio_lock_acquire(&l), 0);
    cio_task *ta = spawn_worker(&a);
    join_worker(ta);
    cr_assert_eq(a.rc, -ETIMEDOUT);
    cr_assert(a.expired);
    cio_task *tb = spawn_worker(&b);
    yield_until(&started, 2);
    cr_assert_eq(cio_lock_release(&l), 0);
    join_worker(tb);
    cr_assert_eq(b.rc, 0, "the timed-out waiter left the queue");
    cr_assert(!cio_lock_locked(&l));
    return 0;
}
MAIN_TEST(lock, timeout, lock_timeout_main)

/* ---- Condition ---------------------------------------------------------------- */

/* obj: the condition, obj2: its lock.  Takes the lock, waits, and records
 * whether the lock was held when the wait returned. */
static int cond_op(worker *w)
{
    cr_assert_eq(cio_lock_acquire(w->obj2), 0);
    int rc = cio_cond_wait(w->obj);
    w->held = cio_lock_locked(w->obj2);
    return rc;
}

static void cond_after(worker *w)
{
    cr_assert_eq(cio_lock_release(w->obj2), 0);
}

static worker cond_worker(int id, cio_cond *c, cio_lock *l, int *started, order_log *log)
{
    return (worker){.id = id,
                    .started = started,
                    .log = log,
                    .op = cond_op,
                    .after = cond_after,
                    .obj = c,
                    .obj2 = l};
}

static intptr_t cond_errors_main(void *arg)
{
    (void)arg;
    cio_lock l = CIO_LOCK_INIT;
    cio_cond c = CIO_COND_INIT(&l), none;
    cio_cond_init(&none, NULL);
    cr_assert_eq(cio_cond_wait(&c), CIO_ENOTLOCKED);
    cr_assert_eq(cio_cond_notify(&c, 1), CIO_ENOTLOCKED);
    cr_assert_eq(cio_cond_notify_all(&c), CIO_ENOTLOCKED);
    cr_assert_eq(cio_cond_wait(&none), CIO_ENOTLOCKED);
    cr_assert_eq(cio_lock_acquire(&l), 0);
    cr_assert_eq(cio_cond_notify(&c, 5), 0, "notify without waiters is fine");
    cr_assert_eq(cio_cond_notify_all(&c), 0);
    cr_assert_eq(cio_lock_release(&l), 0);
    return 0;
}
MAIN_TEST(cond, errors, cond_errors_main)

static intptr_t cond_notify_main(void *arg)
{
    (void)arg;
    cio_lock l = CIO_LOCK_INIT;
    cio_cond c;
    cio_cond_init(&c, &l);
    order_log log = {0};
    int started = 0;
    worker w[NW];
    cio_task *t[NW];
    for (int i = 0; i < NW; i++) {
        w[i] = cond_worker(i, &c, &l, &started, &log);
        t[i] = spawn_worker(&w[i]);
    }
    yield_until(&started, NW);
    cr_assert(!cio_lock_locked(&l), "waiting released the lock");

    cr_assert_eq(cio_lock_acquire(&l), 0);
    cr_assert_eq(cio_cond_notify(&c, 1), 0);
    yield_n(3);
    cr_assert_eq(log.n, 0, "the notified waiter needs the lock first");
    cr_assert_eq(cio_lock_release(&l), 0);
    join_worker(t[0]);
    log_expect(&log, (int[]){0}, 1);

    cr_assert_eq(cio_lock_acquire(&l), 0);
    cr_assert_eq(cio_cond_notify(&c, 2), 0);
    cr_assert_eq(cio_lock_release(&l), 0);
    join_worker(t[1]);
    join_worker(t[2]);
    log_expect(&log, (int[]){0, 1, 2}, 3);
    cr_assert(!cio_task_done(t[3]));

    cr_assert_eq(cio_lock_acquire(&l), 0);
    cr_assert_eq(cio_cond_notify_all(&c), 0);
    cr_assert_eq(cio_lock_release(&l), 0);
    join_worker(t[3]);
    log_expect(&log, (int[]){0, 1, 2, 3}, 4);
    for (int i = 0; i < NW; i++)
        cr_assert(w[i].rc == 0 && w[i].held);
    cr_assert(!cio_lock_locked(&l));
    return 0;
}
MAIN_TEST(cond, notify_fifo_and_notify_all, cond_notify_main)

typedef struct counter_state {
    cio_lock lock;
    cio_cond cond;
    int value;
    int checks;
} counter_state;

static bool counter_reached_3(void *arg)
{
    counter_state *s = arg;
    cr_assert(cio_lock_locked(&s->lock), "the predicate runs under the lock");
    s->checks++;
    return s->value >= 3;
}

static intptr_t counter_bumper(void *arg)
{
    counter_state *s = arg;
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(cio_lock_acquire(&s->lock), 0);
        s->value++;
        cr_assert_eq(cio_cond_notify_all(&s->cond), 0);
        cr_assert_eq(cio_lock_release(&s->lock), 0);
        cr_assert_eq(cio_yield(), 0);
    }
    return 0;
}

static intptr_t cond_wait_for_main(void *arg)
{
    (void)arg;
    counter_state s = {.lock = CIO_LOCK_INIT};
    cio_cond_init(&s.cond, &s.lock);
    cr_assert_eq(cio_lock_acquire(&s.lock), 0);
    cio_task *t = spawn(counter_bumper, &s);
    cr_assert_eq(cio_cond_wait_for(&s.cond, counter_reached_3, &s), 0);
    cr_assert(cio_lock_locked(&s.lock));
    cr_assert_geq(s.value, 3);
    cr_assert_geq(s.checks, 2, "it waited at least once");
    cr_assert_eq(cio_lock_release(&s.lock), 0);
    cr_assert_eq(join(t), 0);
    return 0;
}
MAIN_TEST(cond, wait_for, cond_wait_for_main)

/* Cancelled (or timed out) while waiting: the wait returns the error only
 * once it holds the lock again. */
static intptr_t cond_interrupt_main(void *arg)
{
    bool use_timeout = *(bool *)arg;
    cio_lock l = CIO_LOCK_INIT;
    cio_cond c = CIO_COND_INIT(&l);
    int started = 0;
    worker a = cond_worker(0, &c, &l, &started, NULL);
    a.timeout = use_timeout ? 0.01 : 0;
    cio_task *ta = spawn_worker(&a);
    yield_until(&started, 1);
    cr_assert_eq(cio_lock_acquire(&l), 0);
    if (use_timeout)
        cr_assert_eq(cio_sleep(0.05), 0);
    else
        cio_cancel(ta);
    yield_n(5);
    cr_assert(!cio_task_done(ta), "the waiter must wait for the lock");
    cr_assert_eq(cio_lock_release(&l), 0);
    join_worker(ta);
    cr_assert_eq(a.rc, use_timeout ? -ETIMEDOUT : -ECANCELED);
    cr_assert(a.held, "lock re-acquired before returning");
    cr_assert_eq(a.expired, use_timeout);
    cr_assert(!cio_lock_locked(&l));
    return 0;
}
MAIN_TEST_ARG(cond, cancelled_wait_reacquires_lock, cond_interrupt_main, bool, false)
MAIN_TEST_ARG(cond, timed_out_wait_reacquires_lock, cond_interrupt_main, bool, true)

static intptr_t cond_notify_not_lost_main(void *arg)
{
    bool same_step = *(bool *)arg;
    cio_lock l = CIO_LOCK_INIT;
    cio_cond c = CIO_COND_INIT(&l);
    order_log log = {0};
    int started = 0;
    worker a = cond_worker(0, &c, &l, &started, &log), b = cond_worker(1, &c, &l, &started, &log);
    cio_task *ta = spawn_worker(&a), *tb = spawn_worker(&b);
    yield_until(&started, 2);

    /* A is cancelled, then a single notify: B gets it. */
    if (!same_step) /* A re-takes the free lock and returns */
        cancel_waiter(ta, false);
    cr_assert_eq(cio_lock_acquire(&l), 0);
    if (same_step)
        cancel_waiter(ta, true);
    cr_assert_eq(cio_cond_notify(&c, 1), 0);
    cr_assert_eq(cio_lock_release(&l), 0);
    join_worker(ta);
    join_worker(tb);
    cr_assert_eq(a.rc, -ECANCELED);
    cr_assert_eq(b.rc, 0);
    cr_assert(a.held && b.held);
    log_expect(&log, (int[]){1}, 1);

    /* Notified, then cancelled before running: the wait still succeeds. */
    worker d = cond_worker(2, &c, &l, &started, &log);
    cio_task *td = spawn_worker(&d);
    yield_until(&started, 3);
    cr_assert_eq(cio_lock_acquire(&l), 0);
    cr_assert_eq(cio_cond_notify(&c, 1), 0);
    cio_cancel(td);
    cr_assert_eq(cio_lock_release(&l), 0);
    join_worker(td);
    cr_assert_eq(d.rc, 0);
    cr_assert(d.held);
    cr_assert_eq(d.rc_next, -ECANCELED);
    cr_assert(!cio_lock_locked(&l));
    return 0;
}
MAIN_TEST_ARG(cond, notify_is_never_lost, cond_notify_not_lost_main, bool, false)
SAME_STEP_TEST(cond, notify_is_never_lost_same_step, cond_notify_not_lost_main)

/* ---- Semaphore ------------------------------------------------------------------ */

static int sem_op(worker *w)
{
    return cio_sem_acquire(w->obj);
}

static void sem_after(worker *w)
{
    if (w->rc == 0)
        cr_assert_eq(cio_sem_release(w->obj), 0);
}

static worker sem_worker(int id, cio_sem *s, int *started, order_log *log)
{
    return (worker){
        .id = id, .started = started, .log = log, .op = sem_op, .after = sem_after, .obj = s};
}

static intptr_t sem_basic_main(void *arg)
{
    (void)arg;
    cio_sem s = CIO_SEM_INIT(2), z;
    cio_sem_init(&z, 0);
    cr_assert(cio_sem_locked(&z));
    cr_assert_eq(cio_sem_try_acquire(&z), -EBUSY);
    cr_assert_eq(cio_sem_release(&z), 0, "an unbounded semaphore can go up");
    cr_assert_eq(cio_sem_value(&z), 1);

    cr_assert(!cio_sem_locked(&s));
    cr_assert_eq(cio_sem_acquire(&s), 0);
    cr_assert_eq(cio_sem_try_acquire(&s), 0);
    cr_assert_eq(cio_sem_value(&s), 0);
    cr_assert(cio_sem_locked(&s));
    cr_assert_eq(cio_sem_try_acquire(&s), -EBUSY);
    cr_assert_eq(cio_sem_release(&s), 0);
    cr_assert_eq(cio_sem_release(&s), 0);
    cr_assert_eq(cio_sem_release(&s), 0);
    cr_assert_eq(cio_sem_value(&s), 3);
    return 0;
}
MAIN_TEST(sem, basic, sem_basic_main)

static intptr_t sem_fifo_main(void *arg)
{
    (void)arg;
    cio_sem s = CIO_SEM_INIT(0);
    order_log log = {0};
    int started = 0;
    worker w[NW];
    cio_task *t[NW];
    for (int i = 0; i < NW; i++) {
        w[i] = sem_worker(i, &s, &started, &log);
        w[i].after = NULL; /* keep the permits */
        t[i] = spawn_worker(&w[i]);
    }
    yield_until(&started, NW);
    cr_assert(cio_sem_locked(&s));
    /* Each release hands its permit to the next waiter, so the value stays
     * 0 and no newcomer could barge in. */
    for (int i = 0; i < NW - 1; i++) {
        cr_assert_eq(cio_sem_release(&s), 0);
        cr_assert_eq(cio_sem_value(&s), 0);
        cr_assert_eq(cio_sem_try_acquire(&s), -EBUSY);
    }
    for (int i = 0; i < NW - 1; i++)
        join_worker(t[i]);
    log_expect(&log, (int[]){0, 1, 2}, NW - 1);
    cr_assert(!cio_task_done(t[NW - 1]));
    cr_assert(cio_sem_locked(&s), "a waiter is queued");
    cr_assert_eq(cio_sem_release(&s), 0);
    join_worker(t[NW - 1]);
    log_expect(&log, (int[]){0, 1, 2, 3}, NW);
    cr_assert_eq(cio_sem_value(&s), 0);
    return 0;
}
MAIN_TEST(sem, fifo_and_no_barging, sem_fifo_main)

static intptr_t sem_cancel_main(void *arg)
{
    bool same_step = *(bool *)arg;
    cio_sem s = CIO_SEM_INIT(0);
    order_log log = {0};
    int started = 0;
    worker a = sem_worker(0, &s, &started, &log), b = sem_worker(1, &s, &started, &log);
    b.after = NULL;
    cio_task *ta = spawn_worker(&a), *tb = spawn_worker(&b);
    yield_until(&started, 2);
    cancel_waiter(ta, same_step);
    cr_assert_eq(cio_sem_release(&s), 0); /* must reach B */
    join_worker(ta);
    join_worker(tb);
    cr_assert_eq(a.rc, -ECANCELED);
    cr_assert_eq(b.rc, 0);
    log_expect(&log, (int[]){1}, 1);
    cr_assert_eq(cio_sem_value(&s), 0, "B holds the only permit");

    /* Handed a permit, then cancelled: acquire succeeds. */
    worker c = sem_worker(2, &s, &started, &log);
    cio_task *tc = spawn_worker(&c);
    yield_until(&started, 3);
    cr_assert_eq(cio_sem_release(&s), 0);
    cio_cancel(tc);
    join_worker(tc);
    cr_assert_eq(c.rc, 0);
    cr_assert_eq(c.rc_next, -ECANCELED);
    cr_assert_eq(cio_sem_value(&s), 1, "C gave its permit back");
    return 0;
}
MAIN_TEST_ARG(sem, cancelled_waiter_and_handoff_then_cancel, sem_cancel_main, bool, false)
SAME_STEP_TEST(sem, cancelled_waiter_same_step, sem_cancel_main)

/* A permit freed while the only waiter is cancelled but not yet gone: a
 * newcomer queues behind it and must be served when it leaves. */
static intptr_t sem_newcomer_main(void *arg)
{
    (void)arg;
    cio_sem s = CIO_SEM_INIT(0);
    int started = 0;
    worker a = sem_worker(0, &s, &started, NULL);
    cio_task *ta = spawn_worker(&a);
    yield_until(&started, 1);
    cio_cancel(ta);
    cr_assert_eq(cio_sem_release(&s), 0);
    cr_assert_eq(cio_sem_acquire(&s), 0);
    join_worker(ta);
    cr_assert_eq(a.rc, -ECANCELED);
    cr_assert_eq(cio_sem_value(&s), 0);
    return 0;
}
SAME_STEP_TEST(sem, newcomer_behind_cancelled_waiter_same_step, sem_newcomer_main)

static intptr_t sem_timeout_main(void *arg)
{
    (void)arg;
    cio_sem s = CIO_SEM_INIT(0);
    worker a = sem_worker(0, &s, NULL, NULL);
    a.timeout = 0.01;
    join_worker(spawn_worker(&a));
    cr_assert_eq(a.rc, -ETIMEDOUT);
    cr_assert(a.expired);
    cr_assert_eq(cio_sem_release(&s), 0);
    cr_assert_eq(cio_sem_value(&s), 1, "no stale waiter took the permit");
    cr_assert(!cio_sem_locked(&s));
    return 0;
}
MAIN_TEST(sem, timeout, sem_timeout_main)

static intptr_t bounded_main(void *arg)
{
    (void)arg;
    cio_sem s;
    cio_bounded_sem_init(&s, 2);
    cr_assert_eq(cio_sem_release(&s), CIO_ESEMBOUND);
    cr_assert_eq(cio_sem_value(&s), 2, "value unchanged");
    cr_assert_eq(cio_sem_acquire(&s), 0);
    cr_assert_eq(cio_sem_release(&s), 0);
    cr_assert_eq(cio_sem_release(&s), CIO_ESEMBOUND);
    cr_assert_eq(cio_sem_value(&s), 2);

    cio_sem one = CIO_BOUNDED_SEM_INIT(1), zero;
    cr_assert_eq(cio_sem_release(&one), CIO_ESEMBOUND);
    cio_bounded_sem_init(&zero, 0);
    cr_assert_eq(cio_sem_release(&zero), CIO_ESEMBOUND);
    cr_assert_eq(cio_sem_value(&zero), 0);

    /* Releasing to a waiter is within the bound; the waiter's own release
     * brings the value back to the bound, and one more is too many. */
    int started = 0;
    cr_assert_eq(cio_sem_acquire(&one), 0);
    worker a = sem_worker(0, &one, &started, NULL);
    cio_task *ta = spawn_worker(&a);
    yield_until(&started, 1);
    cr_assert_eq(cio_sem_release(&one), 0);
    cr_assert_eq(cio_sem_value(&one), 0);
    join_worker(ta);
    cr_assert_eq(a.rc, 0);
    cr_assert_eq(cio_sem_value(&one), 1);
    cr_assert_eq(cio_sem_release(&one), CIO_ESEMBOUND);
    return 0;
}
MAIN_TEST(sem, bounded, bounded_main)
