/* Timeout scopes and the interrupt rule.
 *
 * A task's scopes form a stack (innermost first).  A blocking call fails
 * with -ETIMEDOUT if any scope from the innermost outwards has expired,
 * stopping at the first shielded scope (which hides the outer scopes and
 * cancellation); past all scopes, a cancelled task fails with -ECANCELED.
 * Expiry and cancellation are sticky: every later blocking call in the
 * same situation fails too, so they cannot be ignored by accident. */
#include "core/loop.h"

int cio__interrupted(const cio_task *t)
{
    for (const cio_timeout *s = t->scope; s; s = s->outer) {
        if (s->expired)
            return -ETIMEDOUT;
        if (s->shield)
            return 0;
    }
    return t->cancel_requested ? -ECANCELED : 0;
}

static void scope_expired(cio__timer *timer)
{
    cio_timeout *scope = cio__container_of(timer, cio_timeout, timer);
    scope->expired = true;
    cio__task_interrupt(scope->task);
}

static void arm(cio_timeout *scope, double seconds)
{
    int64_t deadline = cio__deadline_after(seconds);
    cio__timer_stop(&scope->timer);
    if (deadline == INT64_MAX)
        return;
    if (deadline <= cio__clock_ns()) {
        scope->expired = true;
        return;
    }
    /* Without memory for the timer the scope expires at once: failing
     * early is safe, never expiring is not. */
    if (cio__timer_start(&scope->timer, deadline, scope_expired) != 0)
        scope->expired = true;
}

static void enter(cio_timeout *scope, double seconds, bool shield)
{
    cio_task *t = cio__current();
    assert(t && "timeout scopes are entered from a task");
    scope->task = t;
    scope->shield = shield;
    scope->expired = false;
    scope->outer = t->scope;
    cio__timer_init(&scope->timer);
    t->scope = scope;
    arm(scope, seconds);
}

void cio_timeout_enter(cio_timeout *scope, double seconds)
{
    enter(scope, seconds, false);
}

void cio_shield_enter(cio_timeout *scope, double seconds)
{
    enter(scope, seconds, true);
}

bool cio_timeout_exit(cio_timeout *scope)
{
    cio_task *t = scope->task;
    assert(t->scope == scope && "timeout scopes must be exited innermost first");
    cio__timer_stop(&scope->timer);
    t->scope = scope->outer;
    return scope->expired;
}

void cio_timeout_reschedule(cio_timeout *scope, double seconds)
{
    scope->expired = false;
    arm(scope, seconds);
    if (scope->expired)
        cio__task_interrupt(scope->task);
}

bool cio_timeout_expired(const cio_timeout *scope)
{
    return scope->expired;
}
