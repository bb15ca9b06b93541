/* Timers: sleepers wake in deadline order, equal deadlines in FIFO order,
 * sleeps are never early and not much late, stopped timers never fire,
 * and the heap stays ordered under many inserts and removals. */
#include <criterion/criterion.h>
#include <math.h>

#include "cio.h"
#include "helpers.h"
#include "internal.h"

TestSuite(timer, .timeout = 30);

static tlog wakes;

struct sleeper_arg {
    int id;
    double seconds;
    int rc;
};

static intptr_t sleeper(void *arg)
{
    struct sleeper_arg *s = arg;
    s->rc = cio_sleep(s->seconds);
    if (s->rc == 0)
        tlog_push(&wakes, s->id);
    return s->rc;
}

TASK_TEST(timer, sleepers_wake_in_deadline_order)
{
    static const double ms[] = {125, 25, 100, 50, 75};
    struct sleeper_arg a[5];
    cio_task *t[5];
    for (int i = 0; i < 5; i++) {
        a[i] = (struct sleeper_arg){.id = i, .seconds = ms[i] / 1000};
        t[i] = t_spawn(sleeper, &a[i]);
    }
    for (int i = 0; i < 5; i++)
        cr_assert_eq(t_join(t[i]), 0);
    TLOG_EXPECT(&wakes, 1, 3, 4, 2, 0);
    return 0;
}

TASK_TEST(timer, equal_durations_wake_in_spawn_order)
{
    enum { N = 32 };
    struct sleeper_arg a[N];
    cio_task *t[N];
    for (int i = 0; i < N; i++) {
        a[i] = (struct sleeper_arg){.id = i, .seconds = 0.02};
        t[i] = t_spawn(sleeper, &a[i]);
    }
    for (int i = 0; i < N; i++)
        cr_assert_eq(t_join(t[i]), 0);
    cr_assert_eq(wakes.n, N);
    for (int i = 0; i < N; i++)
        cr_assert_eq(wakes.v[i], i, "wake %d was task %d", i, wakes.v[i]);
    return 0;
}

/* Internal timers, to give several timers exactly the same deadline. */
struct itimer {
    cio__timer timer;
    int id;
    int fired;
};

static struct itimer *fired_log[4096];
static int nfired;

static void itimer_cb(cio__timer *t)
{
    struct itimer *it = cio__container_of(t, struct itimer, timer);
    it->fired++;
    if (nfired < 4096)
        fired_log[nfired] = it;
    nfired++;
}

TASK_TEST(timer, equal_deadlines_fire_in_fifo_order)
{
    enum { N = 40 };
    static struct itimer it[N];
    int64_t deadline = cio__clock_ns() + 10 * 1000000;
    /* Arm them in a scrambled order; equal deadlines fire in arm order. */
    int order[N];
    for (int i = 0; i < N; i++)
        order[i] = (i * 17) % N;
    for (int i = 0; i < N; i++) {
        struct itimer *x = &it[order[i]];
        x->id = order[i];
        cio__timer_init(&x->timer);
        cr_assert_eq(cio__timer_start(&x->timer, deadline, itimer_cb), 0);
        cr_assert(cio__timer_armed(&x->timer));
    }
    cr_assert_eq(cio_sleep(0.03), 0);
    cr_assert_eq(nfired, N);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(fired_log[i]->id, order[i], "fire %d was timer %d, want %d", i,
                     fired_log[i]->id, order[i]);
        cr_assert_not(cio__timer_armed(&fired_log[i]->timer));
    }
    return 0;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

TASK_TEST(timer, heap_stays_ordered_under_inserts_and_removals)
{
    enum { N = 3000 };
    static struct itimer it[N];
    int64_t base = cio__clock_ns();
    for (int i = 0; i < N; i++) {
        it[i].id = i;
        cio__timer_init(&it[i].timer);
        /* Few distinct deadlines, so many ties too. */
        int64_t d = base + (int64_t)(rng() % 200) * 100000; /* 0..20 ms */
        cr_assert_eq(cio__timer_start(&it[i].timer, d, itimer_cb), 0);
    }
    /* Stop a third, re-arm another third to a new deadline. */
    int expected = 0;
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0) {
            cio__timer_stop(&it[i].timer);
            cr_assert_not(cio__timer_armed(&it[i].timer));
            cio__timer_stop(&it[i].timer); /* idempotent */
        } else {
            if (i % 3 == 1) {
                int64_t d = base + (int64_t)(rng() % 200) * 100000;
                cr_assert_eq(cio__timer_start(&it[i].timer, d, itimer_cb), 0);
            }
            expected++;
        }
    }
    cr_assert_eq(cio_sleep(0.05), 0);
    cr_assert_eq(nfired, expected);
    for (int i = 0; i < N; i++)
        cr_assert_eq(it[i].fired, i % 3 == 0 ? 0 : 1, "timer %d fired %d times", i, it[i].fired);
    for (int i = 1; i < nfired; i++) {
        const cio__timer *a = &fired_log[i - 1]->timer, *b = &fired_log[i]->timer;
        cr_assert(a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq),
                  "timers %d and %d fired out of order", fired_log[i - 1]->id, fired_log[i]->id);
    }
    return 0;
}

TASK_TEST(timer, rearming_moves_the_deadline)
{
    static struct itimer a, b;
    cio__timer_init(&a.timer);
    cio__timer_init(&b.timer);
    a.id = 1;
    b.id = 2;
    int64_t now = cio__clock_ns();
    cr_assert_eq(cio__timer_start(&a.timer, now + 5 * 1000000, itimer_cb), 0);
    cr_assert_eq(cio__timer_start(&b.timer, now + 50 * 1000000, itimer_cb), 0);
    /* Push a past b: it fires once, after b. */
    cr_assert_eq(cio__timer_start(&a.timer, now + 200 * 1000000, itimer_cb), 0);
    cr_assert_eq(cio_sleep(0.01), 0);
    if (cio__clock_ns() < now + 200 * 1000000) /* unless the machine stalled */
        cr_assert_eq(a.fired, 0, "a fired at its old deadline");
    cr_assert_eq(cio_sleep(0.25), 0);
    cr_assert_eq(nfired, 2);
    cr_assert_eq(fired_log[0], &b);
    cr_assert_eq(fired_log[1], &a);
    cr_assert_eq(a.fired, 1);
    return 0;
}

TASK_TEST(timer, sleep_is_never_early_and_not_much_late)
{
    for (int i = 0; i < 3; i++) {
        double t0 = cio_time();
        cr_assert_eq(cio_sleep(0.05), 0);
        double dt = cio_time() - t0;
        /* 1e-9: the subtraction of two doubles, not the timer. */
        cr_assert_geq(dt, 0.05 - 1e-9, "sleep(0.05) took %.6f s", dt);
        cr_assert_lt(dt, 0.05 + 0.05, "sleep(0.05) took %.6f s", dt);
    }
    double t0 = cio_time();
    cr_assert_eq(cio_sleep(0.001), 0);
    cr_assert_geq(cio_time() - t0, 0.001 - 1e-9);
    return 0;
}

TASK_TEST(timer, cancelled_sleeper_leaves_the_others_in_order)
{
    struct sleeper_arg a = {.id = 1, .seconds = 0.06};
    struct sleeper_arg b = {.id = 2, .seconds = 10};
    struct sleeper_arg c = {.id = 3, .seconds = 0.02};
    cio_task *ta = t_spawn(sleeper, &a);
    cio_task *tb = t_spawn(sleeper, &b);
    cio_task *tc = t_spawn(sleeper, &c);
    cr_assert_eq(cio_yield(), 0); /* all three are sleeping now */
    double t0 = cio_time();
    cr_assert(cio_cancel(tb));
    cr_assert_eq(t_join(tb), -ECANCELED);
    cr_assert_lt(cio_time() - t0, 5.0, "cancel wakes the sleeper before its deadline");
    cr_assert_eq(wakes.n, 0);
    cr_assert_eq(t_join(ta), 0);
    cr_assert_eq(t_join(tc), 0);
    TLOG_EXPECT(&wakes, 3, 1);
    return 0;
}

TASK_TEST(timer, infinite_sleep_can_be_cancelled)
{
    struct sleeper_arg a = {.id = 1, .seconds = INFINITY};
    struct sleeper_arg b = {.id = 2, .seconds = 1e12};
    cio_task *ta = t_spawn(sleeper, &a);
    cio_task *tb = t_spawn(sleeper, &b);
    cr_assert_eq(cio_sleep(0.01), 0);
    cr_assert_not(cio_task_done(ta));
    cr_assert_not(cio_task_done(tb));
    cio_cancel(ta);
    cio_cancel(tb);
    cr_assert_eq(t_join(ta), -ECANCELED);
    cr_assert_eq(t_join(tb), -ECANCELED);
    cr_assert_eq(wakes.n, 0);
    return 0;
}
