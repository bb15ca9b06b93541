/* Tasks: spawn/join/detach, cancellation at every kind of blocking point
 * (sticky, except inside a shielded scope), names, gather, wait_for and
 * task groups, with asyncio's semantics. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio.h"
#include "helpers.h"
#include "loop.h"

TestSuite(task, .timeout = 30);
TestSuite(cancel, .timeout = 30);
TestSuite(gather, .timeout = 30);
TestSuite(wait_for, .timeout = 30);
TestSuite(group, .timeout = 30);

/* ---- small task bodies -------------------------------------------------------- */

static intptr_t return_arg(void *arg)
{
    return (intptr_t)arg;
}

/* Sleeps for arg milliseconds, then returns arg. */
static intptr_t sleep_ms(void *arg)
{
    intptr_t ms = (intptr_t)arg;
    int rc = cio_sleep((double)ms / 1000);
    return rc ? rc : ms;
}

/* A task that sleeps "forever" and records how it ended. */
struct victim {
    int started;
    int rc;
    int cleanup;
};

static intptr_t victim_main(void *arg)
{
    struct victim *v = arg;
    v->started = 1;
    v->rc = cio_sleep(100);
    v->cleanup = 1;
    return v->rc;
}

/* ---- spawn, join, detach ----------------------------------------------------------- */

TASK_TEST(task, join_returns_the_result)
{
    cio_task *t = t_spawn(return_arg, (void *)(intptr_t)123);
    intptr_t r = 0;
    cr_assert_eq(cio_join(t, &r), 0);
    cr_assert_eq(r, 123);
    t = t_spawn(return_arg, (void *)(intptr_t)-77);
    cr_assert_eq(cio_join(t, &r), 0, "a negative result is the task's, not join's");
    cr_assert_eq(r, -77);
    t = t_spawn(return_arg, (void *)(intptr_t)5);
    cr_assert_eq(cio_join(t, NULL), 0);
    return 0;
}

TASK_TEST(task, join_waits_for_a_blocked_task)
{
    cio_task *t = t_spawn(sleep_ms, (void *)(intptr_t)20);
    double t0 = cio_time();
    cr_assert_eq(t_join(t), 20);
    cr_assert_geq(cio_time() - t0, 0.02 - 1e-9);
    return 0;
}

TASK_TEST(task, join_of_a_finished_task)
{
    cio_task *t = t_spawn(return_arg, (void *)(intptr_t)9);
    cr_assert_eq(cio_yield(), 0);
    cr_assert(cio_task_done(t));
    cr_assert_eq(cio_task_result(t), 9);
    cr_assert_eq(t_join(t), 9);
    return 0;
}

static size_t finished_held(void)
{
    size_t n = 0;
    cio__node *node, *tmp;
    cio__list_each_safe(node, tmp, &cio_loop_current()->finished) n++;
    return n;
}

TASK_TEST(task, join_releases_the_handle)
{
    cio_task *t = t_spawn(return_arg, (void *)(intptr_t)1);
    cio_task *u = t_spawn(return_arg, (void *)(intptr_t)2);
    cr_assert_eq(cio_yield(), 0);
    cr_assert(cio_task_done(t) && cio_task_done(u));
    /* Finished, handles still held: kept for their results. */
    cr_assert_eq(finished_held(), 2);
    cr_assert_eq(t_join(t), 1);
    cr_assert_eq(finished_held(), 1, "join must free the finished task");
    cio_detach(u);
    cr_assert_eq(finished_held(), 0, "detach must free the finished task");
    return 0;
}

static int detached_ran;

static intptr_t detached_body(void *arg)
{
    (void)arg;
    cr_assert_eq(cio_sleep(0.01), 0);
    detached_ran = 1;
    return 0;
}

TASK_TEST(task, detached_task_runs_on)
{
    cio_task *t = t_spawn(detached_body, NULL);
    cio_detach(t);
    cr_assert_eq(cio_spawn(NULL, detached_body, NULL, NULL), 0);
    cr_assert_eq(cio_sleep(0.05), 0);
    cr_assert_eq(detached_ran, 1);
    cr_assert_eq(finished_held(), 0);
    return 0;
}

TASK_TEST(task, task_wait_does_not_consume)
{
    cio_task *t = t_spawn(sleep_ms, (void *)(intptr_t)10);
    cr_assert_eq(cio_task_wait(t), 0);
    cr_assert(cio_task_done(t));
    cr_assert_eq(cio_task_result(t), 10);
    cr_assert_eq(cio_task_wait(t), 0, "waiting again on a finished task");
    cr_assert_eq(t_join(t), 10);
    cr_assert_eq(cio_task_wait(NULL), -EINVAL);
    cr_assert_eq(cio_task_wait(cio_current()), -EDEADLK);
    return 0;
}

/* ---- names and identity ---------------------------------------------------------------- */

static intptr_t report_self(void *arg)
{
    cio_task **out = arg;
    *out = cio_current();
    return 0;
}

TASK_TEST(task, current_is_the_running_task)
{
    cio_task *self = cio_current();
    cr_assert_not_null(self);
    cio_task *seen = NULL;
    cio_task *t = t_spawn(report_self, &seen);
    cr_assert_eq(cio_task_wait(t), 0);
    cr_assert_eq(seen, t);
    cr_assert_neq(seen, self);
    cr_assert_eq(cio_current(), self);
    t_join(t);
    return 0;
}

static intptr_t report_name(void *arg)
{
    char *out = arg;
    snprintf(out, 64, "%s", cio_task_name(cio_current()));
    return 0;
}

TASK_TEST(task, default_names_are_task_n)
{
    cio_task *a = t_spawn(return_arg, NULL);
    cio_task *b = t_spawn(return_arg, NULL);
    unsigned long na = 0, nb = 0;
    int used = 0;
    cr_assert_eq(sscanf(cio_task_name(a), "Task-%lu%n", &na, &used), 1, "name '%s'",
                 cio_task_name(a));
    cr_assert_eq((size_t)used, strlen(cio_task_name(a)));
    cr_assert_eq(sscanf(cio_task_name(b), "Task-%lu", &nb), 1);
    cr_assert_eq(nb, na + 1, "'%s' then '%s'", cio_task_name(a), cio_task_name(b));
    /* The name is stable and visible from inside. */
    char inside[64];
    cio_task *c = t_spawn(report_name, inside);
    char want[64];
    snprintf(want, sizeof want, "Task-%lu", nb + 1);
    cr_assert_eq(cio_task_wait(c), 0);
    cr_assert_str_eq(inside, want);
    cr_assert_str_eq(cio_task_name(c), want);
    t_join(a);
    t_join(b);
    t_join(c);
    return 0;
}

TASK_TEST(task, custom_names_are_copied)
{
    char name[64] = "worker-7";
    char inside[64];
    cio_task *t = t_spawn_named(report_name, inside, name);
    strcpy(name, "clobbered");
    cr_assert_str_eq(cio_task_name(t), "worker-7");
    cr_assert_eq(cio_task_wait(t), 0);
    cr_assert_str_eq(inside, "worker-7");
    t_join(t);

    /* Long names are cut, not overflowed. */
    char longname[200];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    t = t_spawn_named(return_arg, NULL, longname);
    const char *got = cio_task_name(t);
    cr_assert_gt(strlen(got), 0);
    cr_assert_lt(strlen(got), sizeof longname - 1);
    cr_assert_eq(strncmp(got, longname, strlen(got)), 0);
    t_join(t);
    cr_assert_str_eq(cio_task_name(cio_current()), "main");
    return 0;
}

/* ---- cancellation at every blocking point ---------------------------------------------- */

enum block_kind {
    B_SLEEP,
    B_YIELD,
    B_EVENT,
    B_JOIN,
    B_TASK_WAIT,
    B_READABLE,
    B_LOCK,
    B_SCOPE,
};

struct blocker {
    enum block_kind kind;
    int started;
    int rc1;       /* the blocking call that was interrupted */
    int rc2;       /* a second blocking call: cancellation is sticky */
    int rc_yield;  /* and a third */
    int rc_shield; /* bounded work in a shielded scope */
    int rc_shield_yield;
    int rc_after; /* after the shield: still cancelled */
    bool scope_expired;
    /* resources */
    cio_event *event;
    cio_lock *lock;
    int fd;
    cio_task *other;
    struct victim *other_v;
    int other_done_at_return;
};

static intptr_t blocker_main(void *arg)
{
    struct blocker *b = arg;
    b->started = 1;
    switch (b->kind) {
    case B_SLEEP:
        b->rc1 = cio_sleep(100);
        break;
    case B_YIELD:
        b->rc1 = cio_yield();
        break;
    case B_EVENT:
        b->rc1 = cio_event_wait(b->event);
        break;
    case B_JOIN:
        b->rc1 = cio_join(b->other, NULL);
        b->other_done_at_return = b->other_v->cleanup;
        break;
    case B_TASK_WAIT:
        b->rc1 = cio_task_wait(b->other);
        b->other_done_at_return = b->other_v->cleanup;
        break;
    case B_READABLE:
        b->rc1 = cio_wait_readable(b->fd);
        break;
    case B_LOCK:
        b->rc1 = cio_lock_acquire(b->lock);
        break;
    case B_SCOPE: {
        cio_timeout s;
        cio_timeout_enter(&s, 100);
        b->rc1 = cio_sleep(100);
        b->scope_expired = cio_timeout_exit(&s);
        break;
    }
    }
    b->rc2 = cio_sleep(0.01);
    b->rc_yield = cio_yield();
    cio_timeout shield;
    cio_shield_enter(&shield, 5.0);
    b->rc_shield = cio_sleep(0.01);
    b->rc_shield_yield = cio_yield();
    cio_timeout_exit(&shield);
    b->rc_after = cio_sleep(0.01);
    return b->rc1;
}

static void check_cancelled(struct blocker *b)
{
    cr_assert_eq(b->rc1, -ECANCELED, "the interrupted call returned %d", b->rc1);
    cr_assert_eq(b->rc2, -ECANCELED, "cancellation must be sticky (sleep: %d)", b->rc2);
    cr_assert_eq(b->rc_yield, -ECANCELED, "cancellation must be sticky (yield: %d)", b->rc_yield);
    cr_assert_eq(b->rc_shield, 0, "a shielded scope allows bounded work (%d)", b->rc_shield);
    cr_assert_eq(b->rc_shield_yield, 0);
    cr_assert_eq(b->rc_after, -ECANCELED, "still cancelled after the shield (%d)", b->rc_after);
}

/* Spawn the blocker, let it block, cancel it, join it. */
static void cancel_blocker(struct blocker *b)
{
    cio_task *t = t_spawn(blocker_main, b);
    t_yield_until(&b->started, 1);
    cr_assert_not(cio_task_done(t));
    cr_assert_not(cio_task_cancel_requested(t));
    cr_assert(cio_cancel(t));
    cr_assert(cio_task_cancel_requested(t));
    cr_assert(cio_cancel(t), "cancel is idempotent");
    intptr_t r = t_join(t);
    check_cancelled(b);
    cr_assert_eq(r, -ECANCELED);
}

TASK_TEST(cancel, during_sleep)
{
    struct blocker b = {.kind = B_SLEEP};
    double t0 = cio_time();
    cancel_blocker(&b);
    cr_assert_lt(cio_time() - t0, 5.0);
    return 0;
}

/* A cancellation that arrives while the task is queued in cio_yield is
 * reported by that yield (asyncio: await sleep(0) raises CancelledError),
 * not only by the next call. */
TASK_TEST(cancel, during_yield)
{
    struct blocker b = {.kind = B_YIELD};
    cancel_blocker(&b);
    return 0;
}

TASK_TEST(cancel, during_event_wait)
{
    cio_event e = CIO_EVENT_INIT;
    struct blocker b = {.kind = B_EVENT, .event = &e};
    cancel_blocker(&b);
    cio_event_set(&e);
    return 0;
}

TASK_TEST(cancel, during_join_cancels_the_joined_task)
{
    struct victim v = {0};
    struct blocker b = {.kind = B_JOIN, .other_v = &v};
    b.other = t_spawn(victim_main, &v);
    t_yield_until(&v.started, 1);
    cancel_blocker(&b);
    /* asyncio: cancelling a task awaiting another cancels that one too,
     * and the join returns only once it has finished. */
    cr_assert_eq(v.rc, -ECANCELED);
    cr_assert_eq(b.other_done_at_return, 1);
    return 0;
}

TASK_TEST(cancel, during_task_wait_leaves_the_other_task_alone)
{
    struct victim v = {0};
    struct blocker b = {.kind = B_TASK_WAIT, .other_v = &v};
    cio_task *other = t_spawn(victim_main, &v);
    b.other = other;
    t_yield_until(&v.started, 1);
    cancel_blocker(&b);
    cr_assert_eq(b.other_done_at_return, 0);
    cr_assert_not(cio_task_done(other), "cio_task_wait does not cancel what it waits for");
    cr_assert_not(cio_task_cancel_requested(other));
    cio_cancel(other);
    cr_assert_eq(t_join(other), -ECANCELED);
    return 0;
}

TASK_TEST(cancel, during_wait_readable)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    struct blocker b = {.kind = B_READABLE, .fd = sv[0]};
    cancel_blocker(&b);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

TASK_TEST(cancel, during_lock_acquire)
{
    cio_lock l = CIO_LOCK_INIT;
    cr_assert_eq(cio_lock_acquire(&l), 0);
    struct blocker b = {.kind = B_LOCK, .lock = &l};
    cancel_blocker(&b);
    /* The cancelled waiter did not take the lock. */
    cr_assert(cio_lock_locked(&l));
    cr_assert_eq(cio_lock_release(&l), 0);
    cr_assert_not(cio_lock_locked(&l));
    return 0;
}

TASK_TEST(cancel, inside_a_timeout_scope)
{
    struct blocker b = {.kind = B_SCOPE};
    cancel_blocker(&b);
    cr_assert_not(b.scope_expired, "cancellation is not the scope's timeout");
    return 0;
}

/* A shielded sleep is not interrupted by a cancel that arrives during it. */
struct shielded {
    int started;
    int rc_shielded, rc_after;
    double slept;
};

static intptr_t shielded_sleeper(void *arg)
{
    struct shielded *s = arg;
    cio_timeout shield;
    cio_shield_enter(&shield, 5.0);
    s->started = 1;
    double t0 = cio_time();
    s->rc_shielded = cio_sleep(0.03);
    s->slept = cio_time() - t0;
    cio_timeout_exit(&shield);
    s->rc_after = cio_sleep(100);
    return 0;
}

TASK_TEST(cancel, does_not_interrupt_a_shielded_call)
{
    struct shielded s = {0};
    cio_task *t = t_spawn(shielded_sleeper, &s);
    t_yield_until(&s.started, 1);
    cr_assert(cio_cancel(t));
    cr_assert_eq(t_join(t), 0);
    cr_assert_eq(s.rc_shielded, 0);
    cr_assert_geq(s.slept, 0.03 - 1e-9, "the shielded sleep ran its full length");
    cr_assert_eq(s.rc_after, -ECANCELED, "delivered at the first call after the shield");
    return 0;
}

TASK_TEST(cancel, finished_task_returns_false)
{
    cio_task *t = t_spawn(return_arg, (void *)(intptr_t)4);
    cr_assert_eq(cio_task_wait(t), 0);
    cr_assert_not(cio_cancel(t));
    cr_assert_not(cio_task_cancel_requested(t));
    cr_assert_eq(t_join(t), 4, "a late cancel does not change the result");
    cr_assert_not(cio_cancel(NULL));
    return 0;
}

struct early {
    int body_ran;
    int rc;
    bool requested_inside;
};

static intptr_t early_body(void *arg)
{
    struct early *e = arg;
    e->body_ran = 1;
    e->requested_inside = cio_task_cancel_requested(cio_current());
    e->rc = cio_sleep(0.01);
    return 11;
}

TASK_TEST(cancel, before_the_task_ever_ran)
{
    struct early e = {0};
    cio_task *t = t_spawn(early_body, &e);
    cr_assert(cio_cancel(t));
    cr_assert_eq(e.body_ran, 0);
    cr_assert_eq(t_join(t), 11);
    cr_assert_eq(e.body_ran, 1, "the body still runs");
    cr_assert(e.requested_inside);
    cr_assert_eq(e.rc, -ECANCELED, "its first blocking call fails");
    return 0;
}

TASK_TEST(cancel, self)
{
    cr_assert(cio_cancel(cio_current()));
    cr_assert_eq(cio_sleep(0.01), -ECANCELED);
    cr_assert_eq(cio_yield(), -ECANCELED);
    return 0;
}

/* ---- gather ------------------------------------------------------------------------------ */

TASK_TEST(gather, returns_every_result_in_order)
{
    enum { N = 6 };
    cio_task *t[N];
    /* Finishing in reverse order; results still come back in task order. */
    for (int i = 0; i < N; i++)
        t[i] = t_spawn(sleep_ms, (void *)(intptr_t)((N - i) * 5));
    intptr_t r[N];
    memset(r, 0, sizeof r);
    cr_assert_eq(cio_gather(t, N, r), 0);
    for (int i = 0; i < N; i++)
        cr_assert_eq(r[i], (N - i) * 5, "results[%d] = %ld", i, (long)r[i]);
    cr_assert_eq(finished_held(), 0, "gather releases every handle");

    /* Results may be NULL; an empty gather is fine. */
    t[0] = t_spawn(return_arg, NULL);
    t[1] = t_spawn(return_arg, NULL);
    cr_assert_eq(cio_gather(t, 2, NULL), 0);
    cr_assert_eq(cio_gather(t, 0, NULL), 0);
    cr_assert_eq(finished_held(), 0);
    return 0;
}

struct gatherer {
    struct victim v[3];
    int started;
    int rc;
    int cleanups_at_return;
    double timeout; /* > 0: gather inside a scope */
};

static intptr_t gatherer_main(void *arg)
{
    struct gatherer *g = arg;
    cio_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = t_spawn(victim_main, &g->v[i]);
    g->started = 1;
    cio_timeout s;
    if (g->timeout > 0)
        cio_timeout_enter(&s, g->timeout);
    g->rc = cio_gather(t, 3, NULL);
    if (g->timeout > 0)
        cio_timeout_exit(&s);
    for (int i = 0; i < 3; i++)
        g->cleanups_at_return += g->v[i].cleanup;
    return g->rc;
}

TASK_TEST(gather, cancelled_gatherer_cancels_the_children)
{
    struct gatherer g = {0};
    cio_task *t = t_spawn(gatherer_main, &g);
    t_yield_until(&g.started, 1);
    t_yield_n(2);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(g.v[i].started, 1);
    cr_assert(cio_cancel(t));
    cr_assert_eq(t_join(t), -ECANCELED);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(g.v[i].rc, -ECANCELED, "child %d: %d", i, g.v[i].rc);
    cr_assert_eq(g.cleanups_at_return, 3, "children finish before gather returns");
    cr_assert_eq(finished_held(), 0);
    return 0;
}

TASK_TEST(gather, timeout_cancels_the_children)
{
    struct gatherer g = {.timeout = 0.02};
    cio_task *t = t_spawn(gatherer_main, &g);
    cr_assert_eq(t_join(t), -ETIMEDOUT);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(g.v[i].rc, -ECANCELED);
    cr_assert_eq(g.cleanups_at_return, 3);
    return 0;
}

/* ---- wait_for ------------------------------------------------------------------------------ */

TASK_TEST(wait_for, timeout_cancels_the_task)
{
    struct victim v = {0};
    cio_task *t = t_spawn(victim_main, &v);
    intptr_t r = 99;
    double t0 = cio_time();
    cr_assert_eq(cio_wait_for(t, 0.02, &r), -ETIMEDOUT);
    double dt = cio_time() - t0;
    cr_assert_geq(dt, 0.02 - 1e-9);
    cr_assert_lt(dt, 5.0);
    cr_assert_eq(r, 99, "no result on timeout");
    cr_assert_eq(v.rc, -ECANCELED, "the task was cancelled");
    cr_assert_eq(v.cleanup, 1, "and had finished when wait_for returned");
    cr_assert_eq(finished_held(), 0, "the handle is released");
    /* The caller itself is not cancelled. */
    cr_assert_eq(cio_sleep(0.001), 0);
    return 0;
}

static intptr_t ignores_cancel(void *arg)
{
    int *rc = arg;
    *rc = cio_sleep(100);
    return 7;
}

TASK_TEST(wait_for, task_that_ignores_cancel_returns_its_result)
{
    int rc = 1;
    cio_task *t = t_spawn(ignores_cancel, &rc);
    intptr_t r = 0;
    /* asyncio 3.12: the task finished (without being cancelled in the
     * end), so its result is returned, not TimeoutError. */
    cr_assert_eq(cio_wait_for(t, 0.02, &r), 0);
    cr_assert_eq(r, 7);
    cr_assert_eq(rc, -ECANCELED, "it was cancelled, and ignored it");
    return 0;
}

TASK_TEST(wait_for, completes_in_time)
{
    cio_task *t = t_spawn(sleep_ms, (void *)(intptr_t)10);
    intptr_t r = 0;
    cr_assert_eq(cio_wait_for(t, 5.0, &r), 0);
    cr_assert_eq(r, 10);
    t = t_spawn(sleep_ms, (void *)(intptr_t)10);
    cr_assert_eq(cio_wait_for(t, -1, &r), 0, "negative timeout: no limit");
    cr_assert_eq(r, 10);
    cr_assert_eq(cio_wait_for(NULL, 1, &r), -EINVAL);
    return 0;
}

struct wf_waiter {
    struct victim v;
    int started;
    int rc;
};

static intptr_t wf_waiter_main(void *arg)
{
    struct wf_waiter *w = arg;
    cio_task *t = t_spawn(victim_main, &w->v);
    w->started = 1;
    w->rc = cio_wait_for(t, 50, NULL);
    return 0;
}

TASK_TEST(wait_for, cancelled_caller_cancels_the_task)
{
    struct wf_waiter w = {0};
    cio_task *t = t_spawn(wf_waiter_main, &w);
    t_yield_until(&w.started, 1);
    t_yield_until(&w.v.started, 1);
    cio_cancel(t);
    t_join(t);
    cr_assert_eq(w.rc, -ECANCELED);
    cr_assert_eq(w.v.rc, -ECANCELED);
    cr_assert_eq(w.v.cleanup, 1);
    return 0;
}

/* ---- task groups ------------------------------------------------------------------------------
 */

struct child {
    int id;
    int delay_ms;
    intptr_t result; /* returned after the sleep */
    int started;
    int rc;
    int done;
};

static intptr_t child_main(void *arg)
{
    struct child *c = arg;
    c->started = 1;
    c->rc = cio_sleep((double)c->delay_ms / 1000);
    c->done = 1;
    return c->rc ? c->rc : c->result;
}

TASK_TEST(group, all_succeed)
{
    cio_task_group g;
    cio_group_init(&g);
    struct child c[5];
    for (int i = 0; i < 5; i++) {
        c[i] = (struct child){.id = i, .delay_ms = 5 * (i + 1), .result = i};
        cio_task *h = NULL;
        cr_assert_eq(cio_group_spawn(&g, &h, child_main, &c[i], NULL), 0);
        cr_assert_not_null(h);
    }
    cr_assert_eq(cio_group_wait(&g), 0);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(c[i].done, 1);
        cr_assert_eq(c[i].rc, 0);
    }
    cr_assert_eq(finished_held(), 0, "the group released its tasks");

    /* Reusable after init; an empty group waits for nothing. */
    cio_group_init(&g);
    cr_assert_eq(cio_group_wait(&g), 0);
    cio_group_init(&g);
    cr_assert_eq(cio_group_spawn(&g, NULL, child_main, &c[0], NULL), 0);
    cr_assert_eq(cio_group_wait(&g), 0);
    return 0;
}

TASK_TEST(group, child_failure_cancels_siblings)
{
    cio_task_group g;
    cio_group_init(&g);
    struct child c[4] = {
        {.id = 0, .delay_ms = 100000},
        {.id = 1, .delay_ms = 10, .result = -EIO},
        {.id = 2, .delay_ms = 100000},
        {.id = 3, .delay_ms = 2000, .result = -EPIPE}, /* cancelled first */
    };
    for (int i = 0; i < 4; i++)
        cr_assert_eq(cio_group_spawn(&g, NULL, child_main, &c[i], NULL), 0);
    double t0 = cio_time();
    cr_assert_eq(cio_group_wait(&g), -EIO);
    cr_assert_lt(cio_time() - t0, 1.5);
    cr_assert_eq(c[1].rc, 0);
    cr_assert_eq(c[0].rc, -ECANCELED);
    cr_assert_eq(c[2].rc, -ECANCELED);
    cr_assert_eq(c[3].rc, -ECANCELED, "the later failure never happened");
    for (int i = 0; i < 4; i++)
        cr_assert_eq(c[i].done, 1);
    cr_assert_eq(finished_held(), 0);
    return 0;
}

TASK_TEST(group, spawn_into_a_cancelling_group_fails)
{
    cio_task_group g;
    cio_group_init(&g);
    struct child sib = {.delay_ms = 100000};
    struct child bad = {.delay_ms = 1, .result = -EIO};
    struct child late = {.delay_ms = 1};
    cio_task *hb = NULL;
    cr_assert_eq(cio_group_spawn(&g, NULL, child_main, &sib, NULL), 0);
    cr_assert_eq(cio_group_spawn(&g, &hb, child_main, &bad, NULL), 0);
    /* Wait (without consuming) until the failure has cancelled the group. */
    cr_assert_eq(cio_task_wait(hb), 0);
    cr_assert_eq(cio_task_result(hb), -EIO);
    cio_task *hl = (cio_task *)0x1;
    cr_assert_eq(cio_group_spawn(&g, &hl, child_main, &late, NULL), -ECANCELED);
    cr_assert_eq(hl, (cio_task *)0x1, "no handle on failure");
    cr_assert_eq(cio_group_wait(&g), -EIO);
    cr_assert_eq(late.started, 0, "the refused task never ran");
    cr_assert_eq(sib.rc, -ECANCELED);
    return 0;
}

struct parent {
    struct child c[3];
    int started;
    int rc;
    int done_at_return;
    double timeout;
};

static intptr_t parent_main(void *arg)
{
    struct parent *p = arg;
    cio_task_group g;
    cio_group_init(&g);
    for (int i = 0; i < 3; i++) {
        p->c[i] = (struct child){.id = i, .delay_ms = 100000};
        cr_assert_eq(cio_group_spawn(&g, NULL, child_main, &p->c[i], NULL), 0);
    }
    p->started = 1;
    cio_timeout s;
    if (p->timeout > 0)
        cio_timeout_enter(&s, p->timeout);
    p->rc = cio_group_wait(&g);
    if (p->timeout > 0)
        cio_timeout_exit(&s);
    for (int i = 0; i < 3; i++)
        p->done_at_return += p->c[i].done;
    return p->rc;
}

TASK_TEST(group, cancelled_parent_cancels_children)
{
    struct parent p = {0};
    cio_task *t = t_spawn(parent_main, &p);
    t_yield_until(&p.started, 1);
    t_yield_n(2);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(p.c[i].started, 1);
    cr_assert(cio_cancel(t));
    cr_assert_eq(t_join(t), -ECANCELED);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(p.c[i].rc, -ECANCELED);
    cr_assert_eq(p.done_at_return, 3, "children are reaped before group_wait returns");
    cr_assert_eq(finished_held(), 0);
    return 0;
}

TASK_TEST(group, parent_timeout_cancels_children)
{
    struct parent p = {.timeout = 0.02};
    cio_task *t = t_spawn(parent_main, &p);
    cr_assert_eq(t_join(t), -ETIMEDOUT);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(p.c[i].rc, -ECANCELED);
    cr_assert_eq(p.done_at_return, 3);
    return 0;
}

TASK_TEST(group, explicit_cancel)
{
    cio_task_group g;
    cio_group_init(&g);
    struct child c[2] = {{.delay_ms = 100000}, {.delay_ms = 100000}};
    for (int i = 0; i < 2; i++)
        cr_assert_eq(cio_group_spawn(&g, NULL, child_main, &c[i], NULL), 0);
    cr_assert_eq(cio_yield(), 0);
    cio_group_cancel(&g);
    struct child late = {0};
    cr_assert_eq(cio_group_spawn(&g, NULL, child_main, &late, NULL), -ECANCELED);
    /* Children ending in -ECANCELED are not failures. */
    cr_assert_eq(cio_group_wait(&g), 0);
    cr_assert_eq(c[0].rc, -ECANCELED);
    cr_assert_eq(c[1].rc, -ECANCELED);
    return 0;
}

/* ---- more waiting semantics --------------------------------------------------------------- */

TASK_TEST(gather, negative_results_are_results)
{
    cio_task *t[3];
    t[0] = t_spawn(return_arg, (void *)(intptr_t)-EIO);
    t[1] = t_spawn(sleep_ms, (void *)(intptr_t)5);
    t[2] = t_spawn(return_arg, (void *)(intptr_t)-ECANCELED);
    intptr_t r[3];
    cr_assert_eq(cio_gather(t, 3, r), 0, "the gathering itself succeeded");
    cr_assert_eq(r[0], -EIO);
    cr_assert_eq(r[1], 5, "a failing sibling does not cancel the others");
    cr_assert_eq(r[2], -ECANCELED);
    return 0;
}

TASK_TEST(wait_for, zero_timeout)
{
    /* asyncio: wait_for(t, 0) returns a finished task's result, and
     * cancels an unfinished one with TimeoutError. */
    cio_task *t = t_spawn(return_arg, (void *)(intptr_t)8);
    cr_assert_eq(cio_task_wait(t), 0);
    intptr_t r = 0;
    cr_assert_eq(cio_wait_for(t, 0, &r), 0);
    cr_assert_eq(r, 8);

    struct victim v = {0};
    t = t_spawn(victim_main, &v);
    t_yield_until(&v.started, 1);
    cr_assert_eq(cio_wait_for(t, 0, &r), -ETIMEDOUT);
    cr_assert_eq(v.rc, -ECANCELED);
    cr_assert_eq(v.cleanup, 1);
    return 0;
}

/* A task whose cancellation cleanup takes a while (shielded). */
struct slow {
    int started;
    int rc;
    int rc_cleanup;
    int cleaned;
};

static intptr_t slow_cleanup(void *arg)
{
    struct slow *s = arg;
    s->started = 1;
    s->rc = cio_sleep(100);
    cio_timeout shield;
    cio_shield_enter(&shield, 5.0);
    s->rc_cleanup = cio_sleep(0.03);
    cio_timeout_exit(&shield);
    s->cleaned = 1;
    return s->rc;
}

TASK_TEST(wait_for, timeout_waits_for_the_cleanup)
{
    struct slow s = {0};
    cio_task *t = t_spawn(slow_cleanup, &s);
    double t0 = cio_time();
    cr_assert_eq(cio_wait_for(t, 0.01, NULL), -ETIMEDOUT);
    cr_assert_geq(cio_time() - t0, 0.04 - 1e-9, "returned before the cleanup finished");
    cr_assert_eq(s.rc, -ECANCELED);
    cr_assert_eq(s.rc_cleanup, 0);
    cr_assert_eq(s.cleaned, 1);
    return 0;
}

struct slow_joiner {
    struct slow s;
    int started;
    int rc;
    int cleaned_at_return;
};

static intptr_t slow_joiner_main(void *arg)
{
    struct slow_joiner *j = arg;
    cio_task *t = t_spawn(slow_cleanup, &j->s);
    j->started = 1;
    j->rc = cio_join(t, NULL);
    j->cleaned_at_return = j->s.cleaned;
    return 0;
}

TASK_TEST(cancel, join_returns_after_the_joined_task_cleaned_up)
{
    struct slow_joiner j = {0};
    cio_task *t = t_spawn(slow_joiner_main, &j);
    t_yield_until(&j.s.started, 1);
    cio_cancel(t);
    cr_assert_eq(t_join(t), 0);
    cr_assert_eq(j.rc, -ECANCELED);
    cr_assert_eq(j.s.rc, -ECANCELED);
    cr_assert_eq(j.cleaned_at_return, 1);
    return 0;
}

struct spawner_child {
    cio_task_group *g;
    struct child grandchild;
    int rc_spawn;
};

static intptr_t spawns_into_group(void *arg)
{
    struct spawner_child *c = arg;
    cr_assert_eq(cio_sleep(0.005), 0);
    c->rc_spawn = cio_group_spawn(c->g, NULL, child_main, &c->grandchild, NULL);
    return 0;
}

TASK_TEST(group, children_may_spawn_into_the_group)
{
    cio_task_group g;
    cio_group_init(&g);
    struct spawner_child c = {.g = &g, .grandchild = {.delay_ms = 20, .result = 3}};
    cr_assert_eq(cio_group_spawn(&g, NULL, spawns_into_group, &c, NULL), 0);
    cr_assert_eq(cio_group_wait(&g), 0);
    cr_assert_eq(c.rc_spawn, 0);
    cr_assert_eq(c.grandchild.done, 1, "group_wait waits for tasks spawned while waiting");
    cr_assert_eq(finished_held(), 0);
    return 0;
}
