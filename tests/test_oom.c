/* Out-of-memory and resource failures through fault injection
 * (src/fault.h): every allocation and mapping of spawn, the stack pool,
 * the timer heap and loop creation fails cleanly, leaves the runtime
 * usable, and leaks nothing (the sanitizer build's leak checker and an
 * fd count are the leak checks). */
#include <criterion/criterion.h>

#include "cio.h"
#include "fault.h"
#include "helpers.h"
#include "loop.h"

TestSuite(oom, .timeout = 30);

/* Arming with a far-away nth just counts calls (the counters only run
 * while something is armed). */
#define COUNT_ONLY (1ul << 40)

static size_t nlive(void)
{
    return cio_loop_current()->nlive;
}

static intptr_t return_arg(void *arg)
{
    return (intptr_t)arg;
}

static intptr_t wait_event(void *arg)
{
    return cio_event_wait(arg);
}

/* Spawn blockers until the stack chunk holding main is used up: a chunk
 * holds 16 default-size stacks and main has one.  Checked by counting
 * mmap calls: the 16th spawn must not map, the next one must. */
static void exhaust_first_chunk(cio_task **blockers, cio_event *gate)
{
    for (int i = 0; i < 15; i++) {
        cio__fault_arm(CIO_FAULT_MMAP, COUNT_ONLY, ENOMEM, false);
        cr_assert_eq(cio_spawn(&blockers[i], wait_event, gate, NULL), 0);
        unsigned long maps = cio__fault_calls(CIO_FAULT_MMAP);
        cio__fault_reset();
        cr_assert_eq(maps, 0, "spawn %d mapped a new chunk early", i);
    }
}

static void release_blockers(cio_task **blockers, cio_event *gate)
{
    cio_event_set(gate);
    for (int i = 0; i < 15; i++)
        cr_assert_eq(t_join(blockers[i]), 0);
}

/* SQLite style: fail allocation N = 1, 2, ... of one spawn until it
 * succeeds.  Returns the number of failures seen. */
static int spawn_failing_each_alloc(cio_task **out, bool expect_new_chunk)
{
    int failures = 0;
    for (unsigned long n = 1; n < 100; n++) {
        size_t live = nlive();
        cio__fault_arm(CIO_FAULT_ALLOC, n, ENOMEM, false);
        cio__fault_arm(CIO_FAULT_MMAP, COUNT_ONLY, ENOMEM, false);
        cio_task *t = NULL;
        int rc = cio_spawn(&t, return_arg, (void *)(intptr_t)n, NULL);
        unsigned long maps = cio__fault_calls(CIO_FAULT_MMAP);
        cio__fault_reset();
        if (rc == 0) {
            cr_assert_not_null(t);
            cr_assert_eq(nlive(), live + 1);
            cr_assert_eq(maps > 0, expect_new_chunk, "new chunk mapped: %lu calls", maps);
            *out = t;
            return failures;
        }
        cr_assert_eq(rc, -ENOMEM, "allocation %lu: %s", n, cio_strerror(rc));
        cr_assert_eq(nlive(), live, "a failed spawn must not leave a task behind");
        failures++;
    }
    cr_assert_fail("spawn never succeeded");
    return failures;
}

TASK_TEST(oom, spawn_fails_cleanly_at_each_allocation)
{
    /* With a free stack in the pool: only the task itself is allocated. */
    cio_task *t;
    int failures = spawn_failing_each_alloc(&t, false);
    cr_assert_geq(failures, 1);
    cr_assert_eq(t_join(t), failures + 1);

    /* With the chunk used up, the new chunk's bookkeeping fails too. */
    cio_event gate = CIO_EVENT_INIT;
    cio_task *blockers[15];
    exhaust_first_chunk(blockers, &gate);
    failures = spawn_failing_each_alloc(&t, true);
    cr_assert_geq(failures, 2, "the chunk allocation was not reached");
    cr_assert_eq(t_join(t), failures + 1);
    release_blockers(blockers, &gate);

    /* Everything still works. */
    cio_task *more[10];
    for (int i = 0; i < 10; i++)
        more[i] = t_spawn(return_arg, (void *)(intptr_t)i);
    cr_assert_eq(cio_sleep(0.001), 0);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(t_join(more[i]), i);
    return 0;
}

TASK_TEST(oom, stack_pool_mapping_failure)
{
    cio_event gate = CIO_EVENT_INIT;
    cio_task *blockers[15];
    exhaust_first_chunk(blockers, &gate);

    /* Fail mmap, then each guard-page call, in turn. */
    int failures = 0;
    cio_task *t = NULL;
    for (unsigned long n = 1; n < 100; n++) {
        size_t live = nlive();
        cio__fault_arm(CIO_FAULT_MMAP, n, ENOMEM, false);
        int rc = cio_spawn(&t, return_arg, (void *)(intptr_t)5, NULL);
        cio__fault_reset();
        if (rc == 0)
            break;
        cr_assert_eq(rc, -ENOMEM, "mapping call %lu: %s", n, cio_strerror(rc));
        cr_assert_eq(nlive(), live, "the task count must be unchanged");
        failures++;
        t = NULL;
    }
    cr_assert_not_null(t, "spawn never succeeded");
    cr_assert_geq(failures, 2, "mmap and at least one guard page must have failed");
    cr_assert_eq(t_join(t), 5);

    /* Another errno is passed through as -errno.  Use up the new chunk
     * first (all 16 of its stacks are free again). */
    cio_task *more[17];
    for (int i = 0; i < 16; i++)
        more[i] = t_spawn(wait_event, &gate);
    cio__fault_arm(CIO_FAULT_MMAP, 1, EAGAIN, false);
    size_t live = nlive();
    int rc = cio_spawn(&t, return_arg, NULL, NULL);
    unsigned long maps = cio__fault_calls(CIO_FAULT_MMAP);
    cio__fault_reset();
    cr_assert_eq(maps, 1, "the spawn needed a new chunk");
    cr_assert_eq(rc, -EAGAIN, "%s", cio_strerror(rc));
    cr_assert_eq(nlive(), live);
    more[16] = t_spawn(wait_event, &gate);

    release_blockers(blockers, &gate);
    for (int i = 0; i < 17; i++)
        cr_assert_eq(t_join(more[i]), 0);
    return 0;
}

/* ---- the timer heap ------------------------------------------------------------------ */

static int nsleeping;

static intptr_t sleeper(void *arg)
{
    (void)arg;
    nsleeping++;
    return cio_sleep(0.1);
}

TASK_TEST(oom, timer_heap_growth_failure)
{
    enum { N = 64 }; /* the heap's initial capacity */
    cio_loop *loop = cio_loop_current();
    cio_task *t[N];
    for (int i = 0; i < N; i++)
        t[i] = t_spawn(sleeper, NULL);
    t_yield_until(&nsleeping, N);
    cr_assert_eq(loop->ntimers, N, "%zu timers armed", loop->ntimers);
    cr_assert_eq(loop->timers_cap, N, "heap capacity %zu", loop->timers_cap);

    /* The 65th timer needs the heap to grow. */
    cio__fault_arm(CIO_FAULT_ALLOC, 1, ENOMEM, false);
    int rc = cio_sleep(0.01);
    cio__fault_reset();
    cr_assert_eq(rc, -ENOMEM);
    cr_assert_eq(loop->ntimers, N, "the heap is unchanged");

    /* A timeout scope without memory for its timer expires at once
     * (failing early is safe; never expiring would not be). */
    cio_timeout s;
    cio__fault_arm(CIO_FAULT_ALLOC, 1, ENOMEM, false);
    cio_timeout_enter(&s, 10);
    cio__fault_reset();
    cr_assert_eq(cio_yield(), -ETIMEDOUT);
    cr_assert(cio_timeout_exit(&s));

    /* The others still wake normally, on time. */
    for (int i = 0; i < N; i++)
        cr_assert_eq(t_join(t[i]), 0, "sleeper %d", i);
    cr_assert_eq(loop->ntimers, 0);
    /* And the heap grows once memory is back. */
    for (int i = 0; i < N; i++)
        t[i] = t_spawn(sleeper, NULL);
    nsleeping = 0;
    t_yield_until(&nsleeping, N);
    cr_assert_eq(cio_sleep(0.01), 0);
    for (int i = 0; i < N; i++)
        cr_assert_eq(t_join(t[i]), 0);
    return 0;
}

/* ---- loop creation ---------------------------------------------------------------------- */

static intptr_t main42(void *arg)
{
    (void)arg;
    return 42;
}

/* Fail call N = 1, 2, ... at site during cio_run until it succeeds. */
static void run_failing_each(enum cio__fault_site site, int err, int min_failures)
{
    int fds = t_count_fds();
    int failures = 0;
    for (unsigned long n = 1;; n++) {
        cr_assert_lt(n, 200, "cio_run never succeeded");
        cio__fault_arm(site, n, err, false);
        intptr_t r = cio_run(main42, NULL);
        bool fired = cio__fault_calls(site) >= n;
        cio__fault_reset();
        cr_assert_null(cio_loop_current(), "the failed loop is gone");
        cr_assert_eq(t_count_fds(), fds, "call %lu leaked a descriptor", n);
        if (!fired) {
            cr_assert_eq(r, 42);
            break;
        }
        if (r == 42)
            continue; /* an optional call failed and was handled */
        cr_assert_eq(r, -err, "call %lu: cio_run returned %ld", n, (long)r);
        failures++;
    }
    cr_assert_geq(failures, min_failures);
    /* And a plain run works afterwards. */
    cr_assert_eq(cio_run(main42, NULL), 42);
}

/* Every allocation, mapping and poller registration of cio_run failing
 * in turn: each is a clean error, never a crash (a failed cio__io_open of
 * the loop's eventfd once made loop_free remove it from an empty poll
 * table). */
Test(oom, run_fails_cleanly_when_allocation_fails)
{
    run_failing_each(CIO_FAULT_ALLOC, ENOMEM, 2); /* at least the loop and main's task */
}

Test(oom, run_fails_cleanly_when_mapping_fails)
{
    run_failing_each(CIO_FAULT_MMAP, ENOMEM, 2); /* main's stack chunk, its guard */
}

Test(oom, run_fails_cleanly_when_poller_fails)
{
    run_failing_each(CIO_FAULT_POLLER, EMFILE, 1); /* at least the eventfd */
}
