/* The event loop: cio_run's contract (result, nesting, shutdown), backend
 * selection, scheduling order (yield fairness, FIFO ready queue), the
 * clock, and waiting on foreign file descriptors. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio.h"
#include "helpers.h"

TestSuite(loop, .timeout = 30);
TestSuite(io, .timeout = 30);

/* ---- cio_run ------------------------------------------------------------------ */

static intptr_t return_arg(void *arg)
{
    return *(intptr_t *)arg;
}

Test(loop, run_returns_main_result)
{
    intptr_t values[] = {0, 42, -5, -ECANCELED, INTPTR_MAX, INTPTR_MIN};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        cr_assert_eq(cio_run(return_arg, &values[i]), values[i]);
}

static intptr_t sleep_then_return(void *arg)
{
    (void)arg;
    cr_assert_eq(cio_sleep(0.001), 0);
    return 7;
}

Test(loop, run_returns_result_after_blocking_and_runs_twice)
{
    /* The loop is torn down completely: a second cio_run on the same thread
     * works and sees no trace of the first. */
    cr_assert_eq(cio_run(sleep_then_return, NULL), 7);
    cr_assert_null(cio_loop_current());
    cr_assert_eq(cio_run(sleep_then_return, NULL), 7);
    cr_assert_null(cio_loop_current());
}

Test(loop, run_null_main_is_einval)
{
    cr_assert_eq(cio_run(NULL, NULL), -EINVAL);
    cr_assert_null(cio_loop_current());
}

static int nested_ran;

static intptr_t nested_main(void *arg)
{
    (void)arg;
    nested_ran = 1;
    return 0;
}

TASK_TEST(loop, run_inside_running_loop_is_ebusy)
{
    cio_loop *before = cio_loop_current();
    cr_assert_eq(cio_run(nested_main, NULL), -EBUSY);
    cr_assert_eq(nested_ran, 0, "the nested main must not run");
    /* The outer loop is untouched and still works. */
    cr_assert_eq(cio_loop_current(), before);
    cr_assert_eq(cio_sleep(0.001), 0);
    cr_assert_eq(cio_run(nested_main, NULL), -EBUSY);
    return 0;
}

/* ---- shutdown: what main leaves behind is cancelled ------------------------------ */

static struct {
    int started;
    int sleep_rc;
    int cleanup;
    int never_ran_body;
    int never_ran_rc;
    int shield_rc, after_shield_rc;
} leftover;

static intptr_t leftover_sleeper(void *arg)
{
    (void)arg;
    leftover.started = 1;
    leftover.sleep_rc = cio_sleep(100);
    leftover.cleanup = 1;
    return leftover.sleep_rc;
}

static intptr_t leftover_unstarted(void *arg)
{
    (void)arg;
    leftover.never_ran_body = 1;
    leftover.never_ran_rc = cio_sleep(100);
    return 0;
}

static intptr_t leftover_main(void *arg)
{
    (void)arg;
    cr_assert_eq(cio_spawn(NULL, leftover_sleeper, NULL, NULL), 0);
    t_yield_until(&leftover.started, 1);
    /* Spawned but never run before main returns; handle kept (never
     * released: the loop frees it at close, the leak checker watches). */
    cio_task *kept;
    cr_assert_eq(cio_spawn(&kept, leftover_unstarted, NULL, NULL), 0);
    return 3;
}

Test(loop, run_cancels_leftover_tasks)
{
    double t0 = cio_time();
    cr_assert_eq(cio_run(leftover_main, NULL), 3);
    cr_assert_lt(cio_time() - t0, 5.0, "the 100 s sleeper was not cancelled");
    cr_assert_eq(leftover.sleep_rc, -ECANCELED);
    cr_assert_eq(leftover.cleanup, 1, "the cancelled task's cleanup must run");
    cr_assert_eq(leftover.never_ran_body, 1, "a task that never ran still runs its body");
    cr_assert_eq(leftover.never_ran_rc, -ECANCELED);
}

static intptr_t leftover_graceful(void *arg)
{
    (void)arg;
    leftover.started = 1;
    leftover.sleep_rc = cio_sleep(100);
    /* Bounded graceful cleanup during shutdown. */
    cio_timeout shield;
    cio_shield_enter(&shield, 5.0);
    leftover.shield_rc = cio_sleep(0.01);
    cr_assert_not(cio_timeout_exit(&shield));
    leftover.after_shield_rc = cio_sleep(0.01);
    leftover.cleanup = 1;
    return 0;
}

static intptr_t graceful_main(void *arg)
{
    (void)arg;
    cr_assert_eq(cio_spawn(NULL, leftover_graceful, NULL, NULL), 0);
    t_yield_until(&leftover.started, 1);
    return 0;
}

Test(loop, run_lets_leftover_tasks_clean_up_shielded)
{
    cr_assert_eq(cio_run(graceful_main, NULL), 0);
    cr_assert_eq(leftover.sleep_rc, -ECANCELED);
    cr_assert_eq(leftover.shield_rc, 0, "shielded bounded work succeeds during shutdown");
    cr_assert_eq(leftover.after_shield_rc, -ECANCELED, "cancellation is sticky after the shield");
    cr_assert_eq(leftover.cleanup, 1);
}

/* ---- backend ------------------------------------------------------------------- */

static intptr_t backend_name_main(void *arg)
{
    const char **out = arg;
    cr_assert_not_null(cio_loop_current());
    *out = cio_loop_backend(cio_loop_current());
    return 0;
}

Test(loop, backend_follows_environment)
{
    const char *env = getenv("CIO_BACKEND");
    const char *want = env && strcmp(env, "poll") == 0 ? "poll" : "epoll";
    const char *got = NULL;
    cr_assert_eq(cio_run(backend_name_main, &got), 0);
    cr_assert_not_null(got);
    cr_assert_str_eq(got, want);
}

Test(loop, backend_option_overrides_environment)
{
    const char *got = NULL;
    cio_run_opts o = {.backend = CIO_BACKEND_POLL};
    cr_assert_eq(cio_run_with(backend_name_main, &got, &o), 0);
    cr_assert_str_eq(got, "poll");
    o.backend = CIO_BACKEND_EPOLL;
    cr_assert_eq(cio_run_with(backend_name_main, &got, &o), 0);
    cr_assert_str_eq(got, "epoll");
}

/* ---- outside a loop --------------------------------------------------------------- */

static intptr_t dummy(void *arg)
{
    (void)arg;
    return 0;
}

Test(loop, blocking_calls_outside_a_loop_fail)
{
    cr_assert_null(cio_loop_current());
    cr_assert_null(cio_current());
    /* One rule: outside a task, blocking calls return -EPERM. */
    cr_assert_eq(cio_yield(), -EPERM);
    cr_assert_eq(cio_sleep(0.01), -EPERM);
    cr_assert_eq(cio_sleep(0), -EPERM);
    cr_assert_eq(cio_wait_readable(0), -EPERM);
    cio_event e = CIO_EVENT_INIT;
    cr_assert_eq(cio_event_wait(&e), -EPERM);
    cio_task *t = NULL;
    cr_assert_eq(cio_spawn(&t, dummy, NULL, NULL), -EPERM);
    cr_assert_null(t);
}

TASK_TEST(loop, current_loop_and_task)
{
    cio_loop *loop = cio_loop_current();
    cr_assert_not_null(loop);
    cr_assert_not_null(cio_current());
    cr_assert_str_eq(cio_task_name(cio_current()), "main");
    cr_assert_eq(cio_spawn(NULL, dummy, NULL, NULL), 0);
    cr_assert_eq(cio_spawn(NULL, NULL, NULL, NULL), -EINVAL, "fn is required");
    return 0;
}

/* ---- scheduling order ---------------------------------------------------------------- */

static tlog order;

static intptr_t yielder(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < 4; i++) {
        tlog_push(&order, id);
        cr_assert_eq(cio_yield(), 0);
    }
    return 0;
}

TASK_TEST(loop, yield_alternates_between_tasks)
{
    cio_task *a = t_spawn(yielder, (void *)(intptr_t)1);
    cio_task *b = t_spawn(yielder, (void *)(intptr_t)2);
    t_join(a);
    t_join(b);
    TLOG_EXPECT(&order, 1, 2, 1, 2, 1, 2, 1, 2);
    return 0;
}

static intptr_t log_id(void *arg)
{
    tlog_push(&order, (int)(intptr_t)arg);
    return 0;
}

static intptr_t spawner(void *arg)
{
    int id = (int)(intptr_t)arg;
    tlog_push(&order, id);
    /* Spawned during the iteration: runs after everything that was ready
     * when the iteration began, including the task that yields below. */
    cr_assert_eq(cio_spawn(NULL, log_id, (void *)(intptr_t)(id * 10), NULL), 0);
    cr_assert_eq(cio_yield(), 0);
    tlog_push(&order, id + 100);
    return 0;
}

TASK_TEST(loop, ready_tasks_run_in_fifo_order)
{
    cio_task *t[5];
    for (int i = 0; i < 5; i++)
        t[i] = t_spawn(log_id, (void *)(intptr_t)(i + 1));
    cr_assert_eq(order.n, 0, "spawned tasks first run on the next iteration");
    for (int i = 0; i < 5; i++)
        t_join(t[i]);
    TLOG_EXPECT(&order, 1, 2, 3, 4, 5);

    order.n = 0;
    cio_task *a = t_spawn(spawner, (void *)(intptr_t)1);
    cio_task *b = t_spawn(spawner, (void *)(intptr_t)2);
    t_join(a);
    t_join(b);
    /* 1 spawns 10 and yields, 2 spawns 20 and yields; then in queue
     * order: 10, 1's continuation, 20, 2's continuation. */
    TLOG_EXPECT(&order, 1, 2, 10, 101, 20, 102);
    return 0;
}

TASK_TEST(loop, sleep_zero_and_negative_yield)
{
    order.n = 0;
    cio_task *t = t_spawn(log_id, (void *)(intptr_t)1);
    cr_assert_eq(cio_sleep(0), 0);
    TLOG_EXPECT(&order, 1);
    cio_task *u = t_spawn(log_id, (void *)(intptr_t)2);
    cr_assert_eq(cio_sleep(-1), 0);
    TLOG_EXPECT(&order, 1, 2);
    cio_task *v = t_spawn(log_id, (void *)(intptr_t)3);
    cr_assert_eq(cio_sleep(NAN), 0);
    TLOG_EXPECT(&order, 1, 2, 3);
    t_join(t);
    t_join(u);
    t_join(v);
    return 0;
}

/* ---- the clock --------------------------------------------------------------------------- */

Test(loop, time_is_monotonic_outside_a_loop)
{
    double prev = cio_time();
    cr_assert_gt(prev, 0);
    for (int i = 0; i < 100000; i++) {
        double now = cio_time();
        cr_assert_geq(now, prev);
        prev = now;
    }
}

TASK_TEST(loop, time_is_monotonic_and_advances_with_sleep)
{
    double prev = cio_time();
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(cio_sleep(0.002), 0);
        double now = cio_time();
        cr_assert_geq(now - prev, 0.002 - 1e-9, "slept %.6f s", now - prev);
        prev = now;
    }
    return 0;
}

/* ---- waiting on foreign fds ------------------------------------------------------------------ */

static void make_pair(int sv[2])
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(fcntl(sv[i], F_SETFL, fcntl(sv[i], F_GETFL) | O_NONBLOCK), 0);
}

struct fd_waiter {
    int fd;
    int dir; /* 0 readable, 1 writable */
    int started;
    int rc;
    int done;
};

static intptr_t fd_wait_task(void *arg)
{
    struct fd_waiter *w = arg;
    w->started = 1;
    w->rc = w->dir ? cio_wait_writable(w->fd) : cio_wait_readable(w->fd);
    w->done = 1;
    return w->rc;
}

TASK_TEST(io, wait_readable_wakes_when_peer_writes)
{
    int sv[2];
    make_pair(sv);
    struct fd_waiter w = {.fd = sv[0]};
    cio_task *t = t_spawn(fd_wait_task, &w);
    t_yield_until(&w.started, 1);
    t_yield_n(5);
    cr_assert_eq(w.done, 0, "nothing to read yet: the waiter must still be parked");
    cr_assert_not(cio_task_done(t));
    cr_assert_eq(write(sv[1], "x", 1), 1);
    cr_assert_eq(t_join(t), 0);
    cr_assert_eq(w.rc, 0);
    char c;
    cr_assert_eq(read(sv[0], &c, 1), 1);
    cr_assert_eq(c, 'x');

    /* Data already there: returns without waiting for anything else. */
    cr_assert_eq(write(sv[1], "y", 1), 1);
    cr_assert_eq(cio_wait_readable(sv[0]), 0);
    /* The peer closing makes the fd readable (EOF). */
    close(sv[1]);
    cr_assert_eq(read(sv[0], &c, 1), 1);
    cr_assert_eq(cio_wait_readable(sv[0]), 0);
    cr_assert_eq(read(sv[0], &c, 1), 0);
    close(sv[0]);
    return 0;
}

TASK_TEST(io, wait_writable_returns_at_once_on_empty_buffer)
{
    int sv[2];
    make_pair(sv);
    double t0 = cio_time();
    cr_assert_eq(cio_wait_writable(sv[0]), 0);
    cr_assert_eq(cio_wait_writable(sv[1]), 0);
    cr_assert_lt(cio_time() - t0, 1.0);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

TASK_TEST(io, wait_writable_wakes_when_peer_drains)
{
    int sv[2];
    make_pair(sv);
    char buf[4096];
    memset(buf, 'z', sizeof buf);
    while (write(sv[0], buf, sizeof buf) > 0)
        ;
    cr_assert_eq(errno, EAGAIN);
    struct fd_waiter w = {.fd = sv[0], .dir = 1};
    cio_task *t = t_spawn(fd_wait_task, &w);
    t_yield_until(&w.started, 1);
    t_yield_n(5);
    cr_assert_eq(w.done, 0, "full buffer: the writer must still be parked");
    while (read(sv[1], buf, sizeof buf) > 0)
        ;
    cr_assert_eq(t_join(t), 0);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

TASK_TEST(io, wait_on_fd_minus_one_is_ebadf)
{
    cr_assert_eq(cio_wait_readable(-1), -EBADF);
    cr_assert_eq(cio_wait_writable(-1), -EBADF);
    return 0;
}

/* A closed descriptor is -EBADF on every backend (poll(2) would report
 * it as POLLNVAL, "ready", so cio checks the fd before waiting). */
TASK_TEST(io, wait_on_closed_fd_is_ebadf)
{
    int sv[2];
    make_pair(sv);
    int fd = sv[0];
    close(sv[0]);
    close(sv[1]);
    cr_assert_eq(cio_wait_readable(fd), -EBADF);
    cr_assert_eq(cio_wait_writable(fd), -EBADF);
    return 0;
}

TASK_TEST(io, cancelled_waiter_returns_ecanceled)
{
    int sv[2];
    make_pair(sv);
    struct fd_waiter w = {.fd = sv[0]};
    cio_task *t = t_spawn(fd_wait_task, &w);
    t_yield_until(&w.started, 1);
    cr_assert(cio_cancel(t));
    cr_assert_eq(t_join(t), -ECANCELED);
    cr_assert_eq(w.rc, -ECANCELED);

    /* The fd is left usable: a new waiter works normally. */
    struct fd_waiter w2 = {.fd = sv[0]};
    cio_task *t2 = t_spawn(fd_wait_task, &w2);
    t_yield_until(&w2.started, 1);
    cr_assert_eq(write(sv[1], "x", 1), 1);
    cr_assert_eq(t_join(t2), 0);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

TASK_TEST(io, waiter_times_out_in_a_scope)
{
    int sv[2];
    make_pair(sv);
    cio_timeout s;
    double t0 = cio_time();
    cio_timeout_enter(&s, 0.02);
    cr_assert_eq(cio_wait_readable(sv[0]), -ETIMEDOUT);
    cr_assert(cio_timeout_exit(&s));
    cr_assert_geq(cio_time() - t0, 0.02 - 1e-9);
    /* And the fd still works afterwards. */
    cr_assert_eq(write(sv[1], "x", 1), 1);
    cr_assert_eq(cio_wait_readable(sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

/* cio.h: -EEXIST when another task already waits on the fd in the same
 * direction; the second waiter fails at once instead of waiting too. */
TASK_TEST(io, second_waiter_same_direction_is_eexist)
{
    int sv[2];
    make_pair(sv);
    struct fd_waiter w1 = {.fd = sv[0]}, w2 = {.fd = sv[0]};
    cio_task *t1 = t_spawn(fd_wait_task, &w1);
    t_yield_until(&w1.started, 1);
    cio_task *t2 = t_spawn(fd_wait_task, &w2);
    t_yield_until(&w2.started, 1);
    t_yield_n(3);
    bool second_done = w2.done;
    int second_rc = w2.rc;
    /* Unblock whatever is still waiting before asserting. */
    cr_assert_eq(write(sv[1], "x", 1), 1);
    cr_assert_eq(t_join(t1), 0);
    t_join(t2);
    cr_assert(second_done, "the second waiter must fail at once, not wait");
    cr_assert_eq(second_rc, -EEXIST);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

/* One task waiting for readability and another for writability on the
 * same fd is allowed (-EEXIST is only for the same direction): both share
 * one watcher, so the backend sees the fd once. */
TASK_TEST(io, reader_and_writer_on_same_fd)
{
    int sv[2];
    make_pair(sv);
    struct fd_waiter r = {.fd = sv[0]}, w = {.fd = sv[0], .dir = 1};
    cio_task *tr = t_spawn(fd_wait_task, &r);
    t_yield_until(&r.started, 1);
    cio_task *tw = t_spawn(fd_wait_task, &w);
    cr_assert_eq(t_join(tw), 0, "writable: the buffer is empty");
    cr_assert_eq(w.rc, 0);
    cr_assert_eq(r.done, 0);
    cr_assert_eq(write(sv[1], "x", 1), 1);
    cr_assert_eq(t_join(tr), 0);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

/* cio.h: -EEXIST when cio watches fd as a stream, in either direction,
 * at once (the poll backend used to wait, and return 0 once ready), and
 * the stream keeps working. */
TASK_TEST(io, wait_on_a_streams_own_fd_is_eexist)
{
    int sv[2];
    make_pair(sv);
    cio_stream *s;
    cr_assert_eq(cio_stream_from_fd(&s, sv[0], NULL), 0);
    cio_timeout scope;
    cio_timeout_enter(&scope, 1.0);
    cr_assert_eq(cio_wait_readable(cio_stream_fd(s)), -EEXIST);
    cr_assert_eq(cio_wait_writable(cio_stream_fd(s)), -EEXIST);
    cr_assert(!cio_timeout_exit(&scope), "the calls waited instead of failing at once");
    cr_assert_eq(write(sv[1], "x", 1), 1);
    char c;
    cr_assert_eq(cio_read(s, &c, 1), 1);
    cr_assert_eq(cio_write(s, "y", 1), 0);
    cr_assert_eq(cio_drain(s), 0);
    cr_assert_eq(read(sv[1], &c, 1), 1);
    cr_assert_eq(c, 'y');
    cio_stream_release(s);
    close(sv[1]);
    return 0;
}

/* ---- starvation and cancelling main ------------------------------------------------------ */

struct spinner {
    volatile int *stop;
    long yields;
};

static intptr_t spinner_main(void *arg)
{
    struct spinner *s = arg;
    while (!*s->stop && s->yields < 10 * 1000 * 1000) {
        cr_assert_eq(cio_yield(), 0);
        s->yields++;
    }
    return 0;
}

TASK_TEST(loop, yielding_task_does_not_starve_io_or_timers)
{
    int sv[2];
    make_pair(sv);
    volatile int stop = 0;
    struct spinner sp = {.stop = &stop};
    cio_task *spin = t_spawn(spinner_main, &sp);
    /* A timer, while another task yields without end. */
    double t0 = cio_time();
    cr_assert_eq(cio_sleep(0.01), 0);
    cr_assert_lt(cio_time() - t0, 5.0);
    cr_assert_gt(sp.yields, 0);
    /* An fd becoming readable, likewise. */
    cr_assert_eq(write(sv[1], "x", 1), 1);
    cr_assert_eq(cio_wait_readable(sv[0]), 0);
    long yields = sp.yields;
    stop = 1;
    t_join(spin);
    cr_assert_lt(yields, 10 * 1000 * 1000, "the spinner ran out of yields first");
    close(sv[0]);
    close(sv[1]);
    return 0;
}

static intptr_t cancel_arg(void *arg)
{
    cr_assert(cio_cancel(arg));
    return 0;
}

static intptr_t cancelled_main(void *arg)
{
    (void)arg;
    cr_assert_eq(cio_spawn(NULL, cancel_arg, cio_current(), NULL), 0);
    int rc = cio_sleep(100);
    cr_assert_eq(rc, -ECANCELED);
    cr_assert(cio_task_cancel_requested(cio_current()));
    return 5;
}

Test(loop, main_cancelled_by_a_task)
{
    double t0 = cio_time();
    cr_assert_eq(cio_run(cancelled_main, NULL), 5, "cio_run returns what main returns");
    cr_assert_lt(cio_time() - t0, 5.0);
}
