/* Timeout scopes (asyncio.timeout / Trio cancel scopes): expiry, nesting,
 * stickiness, reschedule, shielding, and deadlines already past. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio.h"
#include "helpers.h"

TestSuite(scope, .timeout = 30);

TASK_TEST(scope, expiry_fails_the_blocking_call)
{
    cio_timeout s;
    double t0 = cio_time();
    cio_timeout_enter(&s, 0.02);
    cr_assert_not(cio_timeout_expired(&s));
    cr_assert_eq(cio_sleep(10), -ETIMEDOUT);
    double dt = cio_time() - t0;
    cr_assert_geq(dt, 0.02 - 1e-9, "expired after %.6f s", dt);
    cr_assert_lt(dt, 5.0);
    cr_assert(cio_timeout_expired(&s));
    cr_assert(cio_timeout_exit(&s), "exit reports the expiry");
    /* Outside the scope nothing is left over. */
    cr_assert_eq(cio_sleep(0.001), 0);
    cr_assert_eq(cio_yield(), 0);
    return 0;
}

TASK_TEST(scope, exit_before_expiry_returns_false)
{
    cio_timeout s;
    cio_timeout_enter(&s, 0.05);
    cr_assert_eq(cio_yield(), 0);
    cr_assert_not(cio_timeout_exit(&s));
    /* The scope's timer is gone with it: sleeping past its deadline is fine. */
    cr_assert_eq(cio_sleep(0.07), 0);
    cr_assert_not(cio_timeout_expired(&s));
    return 0;
}

TASK_TEST(scope, nested_middle_expires_first)
{
    cio_timeout outer, middle, inner;
    cio_timeout_enter(&outer, 10);
    cio_timeout_enter(&middle, 0.02);
    cio_timeout_enter(&inner, 10);
    cr_assert_eq(cio_sleep(10), -ETIMEDOUT);
    cr_assert_eq(cio_yield(), -ETIMEDOUT, "the expired middle scope still encloses us");
    cr_assert_not(cio_timeout_exit(&inner), "inner did not expire");
    cr_assert_eq(cio_sleep(0.001), -ETIMEDOUT, "still inside the expired middle scope");
    cr_assert(cio_timeout_exit(&middle), "middle expired");
    cr_assert_eq(cio_sleep(0.001), 0, "outer has not expired");
    cr_assert_not(cio_timeout_exit(&outer));
    return 0;
}

TASK_TEST(scope, nested_inner_shorter_and_outer_shorter)
{
    /* The innermost deadline is not always the one that fires. */
    cio_timeout outer, inner;
    cio_timeout_enter(&outer, 0.02);
    cio_timeout_enter(&inner, 10);
    cr_assert_eq(cio_sleep(10), -ETIMEDOUT);
    cr_assert_not(cio_timeout_exit(&inner));
    cr_assert(cio_timeout_exit(&outer));

    cio_timeout_enter(&outer, 10);
    cio_timeout_enter(&inner, 0.02);
    cr_assert_eq(cio_sleep(10), -ETIMEDOUT);
    cr_assert(cio_timeout_exit(&inner));
    cr_assert_eq(cio_sleep(0.001), 0);
    cr_assert_not(cio_timeout_exit(&outer));
    return 0;
}

static intptr_t wait_gate(void *arg)
{
    return cio_event_wait(arg);
}

TASK_TEST(scope, every_blocking_call_fails_after_expiry)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    cio_event ev = CIO_EVENT_INIT;
    cio_lock lock = CIO_LOCK_INIT;
    cr_assert_eq(cio_lock_acquire(&lock), 0);
    cio_event gate = CIO_EVENT_INIT;
    cio_task *other = t_spawn(wait_gate, &gate);

    cio_timeout s;
    cio_timeout_enter(&s, 0.01);
    cr_assert_eq(cio_sleep(10), -ETIMEDOUT);
    double t0 = cio_time();
    cr_assert_eq(cio_sleep(10), -ETIMEDOUT);
    cr_assert_eq(cio_sleep(0), -ETIMEDOUT);
    cr_assert_eq(cio_yield(), -ETIMEDOUT);
    cr_assert_eq(cio_event_wait(&ev), -ETIMEDOUT);
    cr_assert_eq(cio_lock_acquire(&lock), -ETIMEDOUT);
    cr_assert_eq(cio_wait_readable(sv[0]), -ETIMEDOUT);
    cr_assert_eq(cio_task_wait(other), -ETIMEDOUT);
    cr_assert_lt(cio_time() - t0, 1.0, "they fail at once");
    cr_assert(cio_timeout_exit(&s));

    /* None of them had an effect, and everything works again. */
    cr_assert(cio_lock_locked(&lock));
    cr_assert_eq(cio_lock_release(&lock), 0);
    cr_assert_not(cio_lock_locked(&lock));
    cr_assert_not(cio_task_done(other));
    cio_event_set(&gate);
    cr_assert_eq(t_join(other), 0);
    cr_assert_eq(write(sv[1], "x", 1), 1);
    cr_assert_eq(cio_wait_readable(sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

TASK_TEST(scope, reschedule_extends_the_deadline)
{
    cio_timeout s;
    double t0 = cio_time();
    cio_timeout_enter(&s, 0.1);
    cr_assert_eq(cio_sleep(0.01), 0);
    cio_timeout_reschedule(&s, 0.3);
    /* Past the original deadline (0.1 s), before the new one. */
    cr_assert_eq(cio_sleep(0.15), 0);
    cr_assert_geq(cio_time() - t0, 0.16 - 1e-9);
    cr_assert_not(cio_timeout_expired(&s));
    cr_assert_not(cio_timeout_exit(&s));
    return 0;
}

TASK_TEST(scope, reschedule_shortens_and_removes_the_deadline)
{
    cio_timeout s;
    cio_timeout_enter(&s, 10);
    cio_timeout_reschedule(&s, 0.01);
    double t0 = cio_time();
    cr_assert_eq(cio_sleep(5), -ETIMEDOUT);
    cr_assert_lt(cio_time() - t0, 2.0);
    cr_assert(cio_timeout_exit(&s));

    cio_timeout_enter(&s, 0.01);
    cio_timeout_reschedule(&s, -1);
    cr_assert_eq(cio_sleep(0.03), 0, "rescheduled to never");
    cr_assert_not(cio_timeout_exit(&s));

    /* Rescheduling into the past expires the scope at once. */
    cio_timeout_enter(&s, 10);
    cio_timeout_reschedule(&s, 0);
    cr_assert(cio_timeout_expired(&s));
    cr_assert_eq(cio_yield(), -ETIMEDOUT);
    cr_assert(cio_timeout_exit(&s));
    return 0;
}

TASK_TEST(scope, scope_that_never_expires)
{
    cio_timeout a, b;
    cio_timeout_enter(&a, -1);
    cio_timeout_enter(&b, INFINITY);
    cr_assert_eq(cio_sleep(0.02), 0);
    cr_assert_eq(cio_yield(), 0);
    cr_assert_not(cio_timeout_expired(&b));
    cr_assert_not(cio_timeout_exit(&b));
    cr_assert_not(cio_timeout_exit(&a));
    return 0;
}

TASK_TEST(scope, shield_inside_expired_scope_allows_bounded_io)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    cio_timeout s, shield;
    cio_timeout_enter(&s, 0.01);
    cr_assert_eq(cio_sleep(10), -ETIMEDOUT);

    cio_shield_enter(&shield, 5.0);
    cr_assert_eq(cio_sleep(0.01), 0);
    cr_assert_eq(cio_yield(), 0);
    cr_assert_eq(write(sv[1], "bye", 3), 3);
    cr_assert_eq(cio_wait_readable(sv[0]), 0);
    char buf[8];
    cr_assert_eq(read(sv[0], buf, sizeof buf), 3);
    cr_assert_not(cio_timeout_exit(&shield));

    cr_assert_eq(cio_sleep(0.001), -ETIMEDOUT, "outside the shield the expiry holds again");
    cr_assert(cio_timeout_exit(&s));
    close(sv[0]);
    close(sv[1]);
    return 0;
}

TASK_TEST(scope, outer_expiry_during_shielded_call_is_deferred)
{
    cio_timeout s, shield;
    cio_timeout_enter(&s, 0.01);
    cio_shield_enter(&shield, 5.0);
    double t0 = cio_time();
    cr_assert_eq(cio_sleep(0.04), 0, "the outer deadline passes during a shielded call");
    cr_assert_geq(cio_time() - t0, 0.04 - 1e-9);
    cr_assert_not(cio_timeout_exit(&shield));
    cr_assert(cio_timeout_expired(&s));
    cr_assert_eq(cio_yield(), -ETIMEDOUT);
    cr_assert(cio_timeout_exit(&s));
    return 0;
}

TASK_TEST(scope, shielded_scope_own_deadline_applies)
{
    cio_timeout shield;
    double t0 = cio_time();
    cio_shield_enter(&shield, 0.02);
    cr_assert_eq(cio_sleep(10), -ETIMEDOUT);
    cr_assert_geq(cio_time() - t0, 0.02 - 1e-9);
    cr_assert(cio_timeout_exit(&shield));

    /* Also in a cancelled task: the shield hides the cancellation, not
     * its own deadline. */
    cr_assert(cio_cancel(cio_current()));
    cio_shield_enter(&shield, 0.1);
    cr_assert_eq(cio_sleep(0.001), 0);
    cr_assert_eq(cio_sleep(10), -ETIMEDOUT);
    cr_assert(cio_timeout_exit(&shield));
    cr_assert_eq(cio_sleep(0.001), -ECANCELED);
    /* main ends cancelled: report success explicitly. */
    return 0;
}

TASK_TEST(scope, zero_scope_fails_the_first_call_at_once)
{
    cio_timeout s;
    cio_timeout_enter(&s, 0);
    cr_assert(cio_timeout_expired(&s), "a deadline already past has expired on entry");
    double t0 = cio_time();
    cr_assert_eq(cio_sleep(10), -ETIMEDOUT);
    cr_assert_lt(cio_time() - t0, 1.0);
    cr_assert_eq(cio_yield(), -ETIMEDOUT);
    cr_assert(cio_timeout_exit(&s));

    /* Same for a tiny positive timeout that is already past at the call. */
    cio_timeout_enter(&s, 1e-12);
    cr_assert_eq(cio_yield(), -ETIMEDOUT);
    cr_assert(cio_timeout_exit(&s));
    return 0;
}

/* A scope's expiry hits only its own task. */
struct scoped {
    double timeout;
    double sleep;
    int rc;
    bool expired;
};

static intptr_t scoped_sleeper(void *arg)
{
    struct scoped *s = arg;
    cio_timeout sc;
    cio_timeout_enter(&sc, s->timeout);
    s->rc = cio_sleep(s->sleep);
    s->expired = cio_timeout_exit(&sc);
    return 0;
}

TASK_TEST(scope, expiry_is_per_task)
{
    struct scoped a = {.timeout = 0.01, .sleep = 10};
    struct scoped b = {.timeout = 10, .sleep = 0.03};
    cio_task *ta = t_spawn(scoped_sleeper, &a);
    cio_task *tb = t_spawn(scoped_sleeper, &b);
    t_join(ta);
    t_join(tb);
    cr_assert_eq(a.rc, -ETIMEDOUT);
    cr_assert(a.expired);
    cr_assert_eq(b.rc, 0);
    cr_assert_not(b.expired);
    return 0;
}

static intptr_t returns_inside_scope(void *arg)
{
    cio_timeout *s = arg;
    cio_timeout_enter(s, 0.01);
    return 0; /* never exits the scope */
}

TASK_TEST(scope, task_returning_inside_a_scope_leaves_no_timer)
{
    /* The scope lives in main's memory so it outlives the task; its
     * timer must be gone when the task ends, not fire later. */
    cio_timeout s;
    cio_task *t = t_spawn(returns_inside_scope, &s);
    cr_assert_eq(t_join(t), 0);
    cr_assert_eq(cio_sleep(0.03), 0);
    cr_assert_not(cio_timeout_expired(&s));
    return 0;
}
