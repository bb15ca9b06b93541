/* Task stacks and the context switch: deep recursion within the stack,
 * custom and default stack sizes, overflow reported with the task's name
 * (in a forked child), stack reuse, and 100,000 concurrent tasks without
 * raising vm.max_map_count. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cio.h"
#include "helpers.h"
#include "loop.h"

TestSuite(stack, .timeout = 30);

/* ---- recursion ------------------------------------------------------------------ */

enum { FRAME = 1000 };

static volatile int keep_recursing = 1;
static uintptr_t deepest;

/* Uses a bit more than FRAME bytes of stack per level, for real: the
 * volatile array is written at both ends and read after the call. */
static int recurse(int depth, int limit)
{
    volatile char buf[FRAME];
    buf[0] = (char)depth;
    buf[FRAME - 1] = (char)(depth >> 8);
    if (depth >= limit || !keep_recursing) {
        deepest = (uintptr_t)&buf[0];
        return buf[0] & 1;
    }
    return recurse(depth + 1, limit) + (buf[FRAME - 1] & 0) + (buf[0] & 1);
}

struct rec {
    int levels;
    int result;
    uintptr_t top;
    size_t used;
    const void *base;
    size_t size;
};

static intptr_t recursion_task(void *arg)
{
    struct rec *r = arg;
    volatile char marker = 0;
    r->top = (uintptr_t)&marker;
    r->result = recurse(1, r->levels);
    r->used = r->top - deepest;
    cio_task *self = cio_current();
    r->base = self->stack->base;
    r->size = self->stack->size;
    /* And the task still switches normally after going deep. */
    return cio_sleep(0.001) == 0 && cio_yield() == 0 ? 0 : -1;
}

static int expected_parity_sum(int levels)
{
    int n = 0;
    for (int d = 1; d <= levels; d++)
        n += d & 1;
    return n;
}

TASK_TEST(stack, deep_recursion_within_default_stack)
{
    /* ~150 KiB of a 256 KiB stack. */
    struct rec r = {.levels = 150};
    cio_task *t = t_spawn(recursion_task, &r);
    cr_assert_eq(t_join(t), 0);
    cr_assert_eq(r.result, expected_parity_sum(r.levels));
    /* An optimising build may inline levels into one frame, packing the
     * buffers back to back: at least 149 of them lie between the ends. */
    cr_assert_geq(r.used, 149u * FRAME, "recursion used only %zu bytes of stack", r.used);
    cr_assert_lt(r.used, CIO_DEFAULT_STACK_SIZE);
    cr_assert_geq(r.size, CIO_DEFAULT_STACK_SIZE - 4096);
    cr_assert_leq(r.size, CIO_DEFAULT_STACK_SIZE);
    /* The frames were on the task's own stack. */
    cr_assert_geq(deepest, (uintptr_t)r.base);
    cr_assert_lt(r.top, (uintptr_t)r.base + r.size);
    return 0;
}

TASK_TEST(stack, custom_small_stack)
{
    cio_task *t;
    struct rec r = {.levels = 20}; /* ~20 KiB of 48 KiB */
    cio_task_opts o = {.name = "small", .stack_size = 48 * 1024};
    cr_assert_eq(cio_spawn(&t, recursion_task, &r, &o), 0);
    cr_assert_eq(t_join(t), 0);
    cr_assert_eq(r.result, expected_parity_sum(r.levels));
    cr_assert_geq(r.size, 48u * 1024 - 4096, "stack of %zu bytes", r.size);
    cr_assert_leq(r.size, 48u * 1024);
    cr_assert_geq(deepest, (uintptr_t)r.base);
    cr_assert_lt(r.top, (uintptr_t)r.base + r.size);

    /* Below the minimum: rounded up to CIO_MIN_STACK_SIZE. */
    struct rec tiny = {.levels = 2};
    o.stack_size = 1;
    cr_assert_eq(cio_spawn(&t, recursion_task, &tiny, &o), 0);
    cr_assert_eq(t_join(t), 0);
    cr_assert_geq(tiny.size, CIO_MIN_STACK_SIZE - 4096);
    cr_assert_leq(tiny.size, CIO_MIN_STACK_SIZE);

    /* Absurd sizes are refused. */
    o.stack_size = (size_t)4 << 30;
    t = (cio_task *)0x1;
    cr_assert_eq(cio_spawn(&t, recursion_task, &tiny, &o), -EINVAL);
    return 0;
}

static intptr_t report_stack(void *arg)
{
    size_t *size = arg;
    *size = cio_current()->stack->size;
    return 0;
}

static intptr_t stack_size_main(void *arg)
{
    size_t *want = arg;
    size_t got = 0;
    cio_task *t = t_spawn(report_stack, &got);
    t_join(t);
    cr_assert_geq(got, *want - 4096, "stack of %zu bytes, want about %zu", got, *want);
    cr_assert_leq(got, *want);
    return 0;
}

Test(stack, default_stack_size_setting)
{
    cr_assert_eq(cio_default_stack_size(), CIO_DEFAULT_STACK_SIZE);
    cr_assert_eq(cio_set_default_stack_size(64 * 1024), 0);
    cr_assert_eq(cio_default_stack_size(), 64 * 1024);
    size_t want = 64 * 1024;
    cr_assert_eq(cio_run(stack_size_main, &want), 0);

    /* Per-loop default from the run options. */
    cio_run_opts o = {.stack_size = 128 * 1024};
    want = 128 * 1024;
    cr_assert_eq(cio_run_with(stack_size_main, &want, &o), 0);

    /* Rounded to pages, at least the minimum; too big is refused. */
    cr_assert_eq(cio_set_default_stack_size(1), 0);
    cr_assert_eq(cio_default_stack_size(), CIO_MIN_STACK_SIZE);
    cr_assert_eq(cio_set_default_stack_size(100 * 1024 + 1), 0);
    cr_assert_eq(cio_default_stack_size() % 4096, 0);
    cr_assert_geq(cio_default_stack_size(), 100 * 1024 + 1);
    cr_assert_eq(cio_set_default_stack_size((size_t)4 << 30), -EINVAL);
    cr_assert_geq(cio_default_stack_size(), 100 * 1024 + 1, "unchanged after -EINVAL");
}

static intptr_t note_base(void *arg)
{
    const void **base = arg;
    *base = cio_current()->stack->base;
    return 0;
}

TASK_TEST(stack, stacks_are_reused)
{
    const void *bases[4];
    int distinct = 0;
    for (int i = 0; i < 1000; i++) {
        const void *b = NULL;
        t_join(t_spawn(note_base, &b));
        int k;
        for (k = 0; k < distinct; k++)
            if (bases[k] == b)
                break;
        if (k == distinct) {
            cr_assert_lt(distinct, 4, "1000 sequential tasks used more than 4 stacks");
            bases[distinct++] = b;
        }
    }
    return 0;
}

/* ---- overflow, in a forked child ------------------------------------------------------ */

struct overflow_case {
    const char *name;  /* task name, NULL for the default */
    size_t stack_size; /* 0 for the default */
    bool in_main;      /* overflow main itself */
    bool bad_access;   /* a plain SIGSEGV instead of an overflow */
    bool second_run;   /* overflow in the second loop of the process */
    bool in_thread;    /* overflow in a loop on another thread */
};

static intptr_t bottomless(void *arg)
{
    (void)arg;
    return recurse(1, 1 << 30);
}

/* A read of an inaccessible page (not of NULL, which UBSan would stop
 * before the fault). */
static intptr_t bad_access(void *arg)
{
    (void)arg;
    volatile int *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 1;
    return *p;
}

static intptr_t overflow_main(void *arg)
{
    const struct overflow_case *c = arg;
    if (c->in_main)
        return bottomless(NULL);
    cio_task_opts o = {.name = c->name, .stack_size = c->stack_size};
    cio_task *t;
    if (cio_spawn(&t, c->bad_access ? bad_access : bottomless, NULL, &o) != 0)
        return 1;
    intptr_t r;
    cio_join(t, &r);
    return 2; /* not reached */
}

static intptr_t nothing(void *arg)
{
    (void)arg;
    return cio_sleep(0.001);
}

static void *thread_loop(void *arg)
{
    cio_run(overflow_main, arg);
    return NULL;
}

static intptr_t idle_main(void *arg)
{
    /* Keep this thread's loop busy while the other thread overflows. */
    pthread_t th;
    if (pthread_create(&th, NULL, thread_loop, arg) != 0)
        return 1;
    cio_sleep(20);
    return 3;
}

static void child_run(const struct overflow_case *c)
{
    struct overflow_case inner = *c;
    if (c->second_run) {
        if (cio_run(nothing, NULL) != 0)
            _exit(44);
    }
    if (c->in_thread) {
        inner.in_thread = false;
        cio_run(idle_main, &inner);
        _exit(45);
    }
    intptr_t r = cio_run(overflow_main, &inner);
    _exit(r == 2 ? 42 : 43);
}

/* Run the case in a child with stderr on a pipe.  Returns the wait status
 * and the child's stderr in out. */
static int run_child(const struct overflow_case *c, char *out, size_t outsz)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(p[1], STDERR_FILENO);
        close(p[0]);
        close(p[1]);
        signal(SIGSEGV, SIG_DFL);
        signal(SIGABRT, SIG_DFL);
        child_run(c);
    }
    close(p[1]);
    size_t n = 0;
    ssize_t k;
    while ((k = read(p[0], out + n, outsz - 1 - n)) > 0 && n < outsz - 1)
        n += (size_t)k;
    out[n] = 0;
    close(p[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return status;
}

static void expect_overflow(const struct overflow_case *c, const char *want)
{
    char out[4096];
    int status = run_child(c, out, sizeof out);
    cr_assert(WIFSIGNALED(status), "child exited normally (status %d), stderr: %s", status, out);
    cr_assert_eq(WTERMSIG(status), SIGABRT, "child died of signal %d, stderr: %s", WTERMSIG(status),
                 out);
    cr_assert_not_null(strstr(out, want), "stderr lacks \"%s\": %s", want, out);
}

Test(stack, overflow_is_reported_with_the_task_name)
{
    struct overflow_case c = {.name = "deep-recursion"};
    expect_overflow(&c, "stack overflow in task 'deep-recursion'");
}

Test(stack, overflow_of_a_small_unnamed_stack)
{
    struct overflow_case c = {.stack_size = 32 * 1024};
    expect_overflow(&c, "stack overflow in task 'Task-");
}

Test(stack, overflow_of_main)
{
    struct overflow_case c = {.in_main = true};
    expect_overflow(&c, "stack overflow in task 'main'");
}

Test(stack, overflow_in_a_second_loop)
{
    /* The handler is installed per loop and removed when it closes. */
    struct overflow_case c = {.name = "again", .second_run = true};
    expect_overflow(&c, "stack overflow in task 'again'");
}

Test(stack, overflow_in_a_loop_on_another_thread)
{
    struct overflow_case c = {.name = "threaded", .in_thread = true};
    expect_overflow(&c, "stack overflow in task 'threaded'");
}

Test(stack, other_segfaults_are_not_called_overflows)
{
    struct overflow_case c = {.name = "bad-access", .bad_access = true};
    char out[4096];
    int status = run_child(&c, out, sizeof out);
    cr_assert(WIFSIGNALED(status), "child exited normally (status %d)", status);
    cr_assert_eq(WTERMSIG(status), SIGSEGV, "died of signal %d, stderr: %s", WTERMSIG(status), out);
    cr_assert_null(strstr(out, "stack overflow"), "stderr: %s", out);
}

/* ---- many tasks ------------------------------------------------------------------------- */

static int nasleep, peak, nwoke;

static intptr_t sleepy(void *arg)
{
    intptr_t i = (intptr_t)arg;
    nasleep++;
    if (nasleep > peak)
        peak = nasleep;
    int rc = cio_sleep(0.2);
    nasleep--;
    if (rc)
        return rc;
    nwoke++;
    return i;
}

TASK_TEST(stack, hundred_thousand_sleeping_tasks)
{
    /* Default settings: 256 KiB stacks, vm.max_map_count untouched. */
    const int n = TEST_ASAN ? 20000 : 100000;
    cio_task **t = malloc((size_t)n * sizeof(*t));
    intptr_t *r = malloc((size_t)n * sizeof(*r));
    cr_assert(t && r);
    for (int i = 0; i < n; i++) {
        int rc = cio_spawn(&t[i], sleepy, (void *)(intptr_t)i, NULL);
        cr_assert_eq(rc, 0, "spawn %d: %s", i, cio_strerror(rc));
    }
    /* How fast is bench/idle_tasks' business, not a unit test's: this one
     * failed on a loaded machine while being right. */
    cr_assert_eq(cio_gather(t, (size_t)n, r), 0);
    cr_assert_eq(peak, n, "only %d tasks were sleeping at once", peak);
    cr_assert_eq(nwoke, n);
    cr_assert_eq(nasleep, 0);
    for (int i = 0; i < n; i++)
        cr_assert_eq(r[i], i, "task %d returned %ld", i, (long)r[i]);
    free(t);
    free(r);
    return 0;
}
