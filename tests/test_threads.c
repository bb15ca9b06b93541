/* cio_call_soon_threadsafe and the thread pool (cio_to_thread).
 *
 * Criterion runs every test in its own process, so each test starts with
 * an empty pool and can set its own limits.  Threads hand-shake through
 * condition variables and cio_events; every wait is bounded (WAIT_S) so a
 * bug fails the test instead of hanging it.  Assertions inside tasks and
 * callbacks use cr_expect (a fatal cr_assert would longjmp off a task
 * stack); worker threads only record what they saw. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "internal.h"

#define WAIT_S 10

/* ---- helpers ------------------------------------------------------------ */

/* A one-shot gate a worker blocks on until the test opens it. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
} gate;
#define GATE_INIT                                                                                  \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false                                 \
    }

static bool gate_wait(gate *g)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WAIT_S;
    pthread_mutex_lock(&g->mu);
    while (!g->open) {
        if (pthread_cond_timedwait(&g->cv, &g->mu, &deadline) == ETIMEDOUT)
            break;
    }
    bool open = g->open;
    pthread_mutex_unlock(&g->mu);
    return open;
}

static void gate_open(gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void set_event_cb(void *arg)
{
    cio_event_set(arg);
}

/* Wait for an event from a task, at most WAIT_S. */
static int wait_event(cio_event *e)
{
    cio_timeout scope;
    cio_timeout_enter(&scope, WAIT_S);
    int rc = cio_event_wait(e);
    cio_timeout_exit(&scope);
    return rc;
}

/* cio_to_thread with a WAIT_S bound; expects success and returns fn's result. */
static intptr_t to_thread_ok(intptr_t (*fn)(void *), intptr_t arg)
{
    intptr_t res = -1;
    cio_timeout scope;
    cio_timeout_enter(&scope, WAIT_S);
    cr_expect_eq(cio_to_thread(fn, (void *)arg, &res), 0);
    cio_timeout_exit(&scope);
    return res;
}

/* A worker function that tells the loop it started, then blocks until
 * the test opens the gate.  Returns 42 (or -1 if the gate timed out). */
typedef struct blocker {
    cio_loop *loop;
    cio_event started;
    gate gate;
} blocker;
#define BLOCKER_INIT                                                                               \
    {                                                                                              \
        NULL, CIO_EVENT_INIT, GATE_INIT                                                            \
    }

static intptr_t block_fn(void *arg)
{
    blocker *b = arg;
    cio_call_soon_threadsafe(b->loop, set_event_cb, &b->started);
    return gate_wait(&b->gate) ? 42 : -1;
}

static intptr_t block_task(void *arg)
{
    intptr_t res = 0;
    int rc = cio_to_thread(block_fn, arg, &res);
    return rc < 0 ? rc : res;
}

/* Start a task that occupies one worker with b, and wait until it runs. */
static cio_task *occupy_worker(blocker *b)
{
    b->loop = cio_loop_current();
    cio_task *t = NULL;
    cr_expect_eq(cio_spawn(&t, block_task, b, NULL), 0);
    cr_expect_eq(wait_event(&b->started), 0, "blocking work never started");
    return t;
}

static atomic_int never_ran;

static intptr_t never_fn(void *arg)
{
    (void)arg;
    atomic_fetch_add(&never_ran, 1);
    return 0;
}

static intptr_t noop_fn(void *arg)
{
    return (intptr_t)arg;
}

/* A task that records it is about to call cio_to_thread(never_fn), so the
 * test knows it is parked in the pool queue once the flag is up. */
static intptr_t queued_task(void *arg)
{
    *(bool *)arg = true;
    return cio_to_thread(never_fn, NULL, NULL);
}

static void yield_until(const bool *flag)
{
    for (int i = 0; i < 1000 && !*flag; i++)
        cio_yield();
    cr_expect(*flag, "task never reached its blocking call");
}

/* ---- cio_call_soon_threadsafe ------------------------------------------ */

#define NPROD 4
#define NCALLS 1000

struct call {
    int producer, index, runs;
};

static struct {
    cio_loop *loop;
    pthread_t loop_thread;
    struct call calls[NPROD][NCALLS];
    int next[NPROD];
    int total, wrong_thread, out_of_order;
    atomic_int errors;
    cio_event all_done;
} cst;

static void on_call(void *arg)
{
    struct call *c = arg;
    if (!pthread_equal(pthread_self(), cst.loop_thread))
        cst.wrong_thread++;
    if (c->index != cst.next[c->producer])
        cst.out_of_order++;
    cst.next[c->producer] = c->index + 1;
    c->runs++;
    if (++cst.total == NPROD * NCALLS)
        cio_event_set(&cst.all_done);
}

static void *producer(void *arg)
{
    int p = (int)(intptr_t)arg;
    for (int i = 0; i < NCALLS; i++) {
        cst.calls[p][i].producer = p;
        cst.calls[p][i].index = i;
        if (cio_call_soon_threadsafe(cst.loop, on_call, &cst.calls[p][i]) != 0)
            atomic_fetch_add(&cst.errors, 1);
    }
    return NULL;
}

static intptr_t call_soon_main(void *arg)
{
    (void)arg;
    cst.loop = cio_loop_current();
    cst.loop_thread = pthread_self();
    pthread_t th[NPROD];
    for (int p = 0; p < NPROD; p++)
        cr_expect_eq(pthread_create(&th[p], NULL, producer, (void *)(intptr_t)p), 0);
    cr_expect_eq(wait_event(&cst.all_done), 0, "only %d of %d calls ran", cst.total,
                 NPROD * NCALLS);
    /* Producers need nothing from the loop, so joining here is brief. */
    for (int p = 0; p < NPROD; p++)
        pthread_join(th[p], NULL);
    /* Give any stray duplicate a chance to show up. */
    for (int i = 0; i < 10; i++)
        cio_yield();
    return 0;
}

Test(call_soon_threadsafe, four_threads_fifo_on_loop_thread)
{
    cr_assert_eq(cio_run(call_soon_main, NULL), 0);
    cr_assert_eq(atomic_load(&cst.errors), 0);
    cr_assert_eq(cst.total, NPROD * NCALLS);
    cr_assert_eq(cst.wrong_thread, 0);
    cr_assert_eq(cst.out_of_order, 0);
    for (int p = 0; p < NPROD; p++) {
        cr_assert_eq(cst.next[p], NCALLS);
        for (int i = 0; i < NCALLS; i++)
            cr_assert_eq(cst.calls[p][i].runs, 1, "call %d/%d ran %d times", p, i,
                         cst.calls[p][i].runs);
    }
}

static int alloc_runs;

static void count_and_set(void *arg)
{
    alloc_runs++;
    cio_event_set(arg);
}

static intptr_t alloc_fail_main(void *arg)
{
    (void)arg;
    cio_event ev = CIO_EVENT_INIT;
    cio__fault_arm(CIO_FAULT_ALLOC, 1, ENOMEM, false);
    cr_expect_eq(cio_call_soon_threadsafe(cio_loop_current(), count_and_set, &ev), -ENOMEM);
    cio__fault_reset();
    cr_expect_eq(cio_call_soon_threadsafe(cio_loop_current(), count_and_set, &ev), 0);
    cr_expect_eq(wait_event(&ev), 0);
    for (int i = 0; i < 10; i++)
        cio_yield();
    return 0;
}

Test(call_soon_threadsafe, enomem_then_recovers)
{
    cr_assert_eq(cio_run(alloc_fail_main, NULL), 0);
    cr_assert_eq(alloc_runs, 1, "the failed call must not run, the next exactly once");
}

Test(call_soon_threadsafe, null_loop_is_einval)
{
    cr_assert_eq(cio_call_soon_threadsafe(NULL, set_event_cb, NULL), -EINVAL);
}

/* ---- cio_to_thread: results and limits --------------------------------- */

static pthread_t worker_seen;

static intptr_t double_fn(void *arg)
{
    worker_seen = pthread_self();
    return (intptr_t)arg * 2;
}

static intptr_t results_main(void *arg)
{
    (void)arg;
    for (intptr_t i = 0; i < 50; i++) {
        cr_expect_eq(to_thread_ok(double_fn, i), 2 * i);
        cr_expect(!pthread_equal(worker_seen, pthread_self()), "fn ran on the loop thread");
    }
    cr_expect_eq(cio_to_thread(double_fn, (void *)1, NULL), 0, "result may be NULL");
    return 7;
}

Test(to_thread, returns_results)
{
    cr_assert_eq(cio_run(results_main, NULL), 7);
}

Test(to_thread, outside_a_task_is_eperm)
{
    intptr_t res;
    cr_assert_eq(cio_to_thread(noop_fn, NULL, &res), -EPERM);
}

Test(to_thread, configure_validates)
{
    cr_assert_eq(cio_threadpool_configure(0, 0), -EINVAL);
    cr_assert_eq(cio_threadpool_configure(4, 0), -EINVAL);
    cr_assert_eq(cio_threadpool_configure(4, 5), -EINVAL);
    cr_assert_eq(cio_threadpool_configure(4, 4), 0);
    cr_assert_eq(cio_threadpool_configure(1, 1), 0);
}

#define NCONC 20
#define MAXT 4

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int running, max_running, started;
} conc = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};

/* The first MAXT items hold their worker until MAXT are running at once,
 * proving the pool reaches its limit; the rest run straight through, and
 * max_running shows it is never exceeded. */
static intptr_t conc_fn(void *arg)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WAIT_S;
    pthread_mutex_lock(&conc.mu);
    if (++conc.running > conc.max_running)
        conc.max_running = conc.running;
    conc.started++;
    pthread_cond_broadcast(&conc.cv);
    while (conc.started < MAXT) {
        if (pthread_cond_timedwait(&conc.cv, &conc.mu, &deadline) == ETIMEDOUT)
            break;
    }
    conc.running--;
    pthread_mutex_unlock(&conc.mu);
    return (intptr_t)arg + 1000;
}

static intptr_t conc_task(void *arg)
{
    intptr_t res = -1;
    int rc = cio_to_thread(conc_fn, arg, &res);
    return rc < 0 ? rc : res;
}

static intptr_t concurrency_main(void *arg)
{
    (void)arg;
    cio_task *tasks[NCONC];
    intptr_t results[NCONC];
    for (intptr_t i = 0; i < NCONC; i++)
        cr_expect_eq(cio_spawn(&tasks[i], conc_task, (void *)i, NULL), 0);
    cio_timeout scope;
    cio_timeout_enter(&scope, WAIT_S);
    cr_expect_eq(cio_gather(tasks, NCONC, results), 0);
    cio_timeout_exit(&scope);
    for (intptr_t i = 0; i < NCONC; i++)
        cr_expect_eq(results[i], i + 1000);
    return 0;
}

Test(to_thread, twenty_calls_never_exceed_max_threads)
{
    cr_assert_eq(cio_threadpool_configure(MAXT, 1), 0);
    cr_assert_eq(cio_run(concurrency_main, NULL), 0);
    cr_assert_eq(conc.started, NCONC);
    cr_assert_eq(conc.max_running, MAXT, "max concurrency %d", conc.max_running);
}

/* Two loops on two threads share the one pool. */
static intptr_t shared_main(void *arg)
{
    intptr_t base = (intptr_t)arg;
    for (intptr_t i = 0; i < 100; i++) {
        intptr_t res = -1;
        if (cio_to_thread(noop_fn, (void *)(base + i), &res) != 0 || res != base + i)
            return -1;
    }
    return 0;
}

static void *loop_thread(void *arg)
{
    return (void *)cio_run(shared_main, arg);
}

Test(to_thread, shared_by_two_loops)
{
    cr_assert_eq(cio_threadpool_configure(2, 1), 0);
    pthread_t a, b;
    cr_assert_eq(pthread_create(&a, NULL, loop_thread, (void *)0), 0);
    cr_assert_eq(pthread_create(&b, NULL, loop_thread, (void *)10000), 0);
    void *ra, *rb;
    pthread_join(a, &ra);
    pthread_join(b, &rb);
    cr_assert_eq((intptr_t)ra, 0);
    cr_assert_eq((intptr_t)rb, 0);
}

/* ---- the DNS share ------------------------------------------------------- */

static struct {
    blocker first;
    atomic_bool first_finished, second_started, second_saw_first_finished;
} dns = {.first = BLOCKER_INIT};

static intptr_t dns_first_fn(void *arg)
{
    intptr_t r = block_fn(arg);
    atomic_store(&dns.first_finished, true);
    return r;
}

static intptr_t dns_second_fn(void *arg)
{
    (void)arg;
    atomic_store(&dns.second_saw_first_finished, atomic_load(&dns.first_finished));
    atomic_store(&dns.second_started, true);
    return 2;
}

static intptr_t dns_first_task(void *arg)
{
    intptr_t res = -1;
    int rc = cio__to_thread(dns_first_fn, arg, &res, true);
    return rc < 0 ? rc : res;
}

static intptr_t dns_second_task(void *arg)
{
    *(bool *)arg = true;
    intptr_t res = -1;
    int rc = cio__to_thread(dns_second_fn, NULL, &res, true);
    return rc < 0 ? rc : res;
}

static intptr_t dns_main(void *arg)
{
    (void)arg;
    dns.first.loop = cio_loop_current();
    cio_task *first = NULL, *second = NULL;
    cr_expect_eq(cio_spawn(&first, dns_first_task, &dns.first, NULL), 0);
    cr_expect_eq(wait_event(&dns.first.started), 0);

    bool queued = false;
    cr_expect_eq(cio_spawn(&second, dns_second_task, &queued, NULL), 0);
    yield_until(&queued);

    /* The only DNS slot is taken, yet general work gets workers. */
    for (intptr_t i = 0; i < 3; i++)
        cr_expect_eq(to_thread_ok(noop_fn, i), i);
    cr_expect(!atomic_load(&dns.second_started), "second DNS item ran beside the first");

    gate_open(&dns.first.gate);
    intptr_t r1 = 0, r2 = 0;
    cr_expect_eq(cio_wait_for(first, WAIT_S, &r1), 0);
    cr_expect_eq(cio_wait_for(second, WAIT_S, &r2), 0);
    cr_expect_eq(r1, 42);
    cr_expect_eq(r2, 2);
    return 0;
}

Test(to_thread, dns_share_is_capped)
{
    cr_assert_eq(cio_threadpool_configure(4, 1), 0);
    cr_assert_eq(cio_run(dns_main, NULL), 0);
    cr_assert(atomic_load(&dns.second_started));
    cr_assert(atomic_load(&dns.second_saw_first_finished),
              "second DNS item started before the first finished");
}

/* ---- cancellation and timeouts ----------------------------------------- */

static blocker blk = BLOCKER_INIT;

/* After blocking work, the single worker runs one more item: had a
 * removed item been left in the queue it would run before this one. */
static void flush_single_worker(void)
{
    cr_expect_eq(to_thread_ok(noop_fn, 5), 5);
}

static intptr_t cancel_queued_main(void *arg)
{
    (void)arg;
    cio_task *a = occupy_worker(&blk);
    bool queued = false;
    cio_task *b = NULL;
    cr_expect_eq(cio_spawn(&b, queued_task, &queued, NULL), 0);
    yield_until(&queued);

    cr_expect(cio_cancel(b));
    intptr_t rb = 0;
    cr_expect_eq(cio_wait_for(b, WAIT_S, &rb), 0);
    cr_expect_eq(rb, -ECANCELED);

    gate_open(&blk.gate);
    intptr_t ra = 0;
    cr_expect_eq(cio_wait_for(a, WAIT_S, &ra), 0);
    cr_expect_eq(ra, 42);
    flush_single_worker();
    return 0;
}

Test(to_thread, cancel_before_start_removes_work)
{
    cr_assert_eq(cio_threadpool_configure(1, 1), 0);
    cr_assert_eq(cio_run(cancel_queued_main, NULL), 0);
    cr_assert_eq(atomic_load(&never_ran), 0, "cancelled work ran anyway");
}

static struct {
    int rc, next_rc;
    intptr_t res;
} running_out;

static intptr_t cancel_running_task(void *arg)
{
    running_out.rc = cio_to_thread(block_fn, arg, &running_out.res);
    /* The cancellation was held back, not lost. */
    running_out.next_rc = cio_yield();
    return 0;
}

static intptr_t cancel_running_main(void *arg)
{
    (void)arg;
    blk.loop = cio_loop_current();
    cio_task *t = NULL;
    cr_expect_eq(cio_spawn(&t, cancel_running_task, &blk, NULL), 0);
    cr_expect_eq(wait_event(&blk.started), 0);

    cr_expect(cio_cancel(t));
    /* The worker holds the task's memory: the task must keep waiting. */
    for (int i = 0; i < 20; i++) {
        cio_yield();
        cr_expect(!cio_task_done(t), "to_thread returned while fn was running");
    }
    gate_open(&blk.gate);
    cr_expect_eq(cio_wait_for(t, WAIT_S, NULL), 0);
    return 0;
}

Test(to_thread, cancel_while_running_returns_result)
{
    cr_assert_eq(cio_run(cancel_running_main, NULL), 0);
    cr_assert_eq(running_out.rc, 0);
    cr_assert_eq(running_out.res, 42);
    cr_assert_eq(running_out.next_rc, -ECANCELED);
}

/* cio_run's final cancellation reaches a task whose fn is running: the
 * loop must stay up until the worker's completion has been delivered. */
static struct {
    gate main_done;
    int rc;
    intptr_t res;
} teardown = {.main_done = GATE_INIT, .rc = -1};

static intptr_t teardown_task(void *arg)
{
    teardown.rc = cio_to_thread(block_fn, arg, &teardown.res);
    return 0;
}

static void *teardown_opener(void *arg)
{
    /* Let the work finish only once main has returned (cio_run is then
     * tearing down, or about to). */
    gate_wait(&teardown.main_done);
    gate_open(&((blocker *)arg)->gate);
    return NULL;
}

static intptr_t teardown_main(void *arg)
{
    (void)arg;
    blk.loop = cio_loop_current();
    cr_expect_eq(cio_spawn(NULL, teardown_task, &blk, NULL), 0);
    cr_expect_eq(wait_event(&blk.started), 0);
    gate_open(&teardown.main_done);
    return 3;
}

Test(to_thread, run_teardown_waits_for_running_work)
{
    pthread_t opener;
    cr_assert_eq(pthread_create(&opener, NULL, teardown_opener, &blk), 0);
    cr_assert_eq(cio_run(teardown_main, NULL), 3);
    pthread_join(opener, NULL);
    cr_assert_eq(teardown.rc, 0);
    cr_assert_eq(teardown.res, 42);
}

static intptr_t timeout_queued_main(void *arg)
{
    (void)arg;
    cio_task *a = occupy_worker(&blk);

    cio_timeout scope;
    cio_timeout_enter(&scope, 0.05);
    int rc = cio_to_thread(never_fn, NULL, NULL);
    bool expired = cio_timeout_exit(&scope);
    cr_expect_eq(rc, -ETIMEDOUT);
    cr_expect(expired);

    gate_open(&blk.gate);
    cr_expect_eq(cio_wait_for(a, WAIT_S, NULL), 0);
    flush_single_worker();
    return 0;
}

Test(to_thread, timeout_while_queued)
{
    cr_assert_eq(cio_threadpool_configure(1, 1), 0);
    cr_assert_eq(cio_run(timeout_queued_main, NULL), 0);
    cr_assert_eq(atomic_load(&never_ran), 0, "timed-out work ran anyway");
}

static intptr_t interrupted_main(void *arg)
{
    (void)arg;
    /* Already past its deadline: nothing is queued at all. */
    cio_timeout scope;
    cio_timeout_enter(&scope, 0);
    for (int i = 0; i < 1000 && !cio_timeout_expired(&scope); i++)
        cio_sleep(0.001);
    cr_expect(cio_timeout_expired(&scope));
    cr_expect_eq(cio_to_thread(never_fn, NULL, NULL), -ETIMEDOUT);
    cio_timeout_exit(&scope);
    return 0;
}

Test(to_thread, interrupted_task_queues_nothing)
{
    cr_assert_eq(cio_run(interrupted_main, NULL), 0);
    cr_assert_eq(atomic_load(&never_ran), 0);
}

/* ---- worker creation failure -------------------------------------------- */

static intptr_t thread_fail_main(void *arg)
{
    (void)arg;
    /* A fresh process: the pool has no worker, so this call must create
     * the first one, and that fails. */
    cio__fault_arm(CIO_FAULT_THREAD, 1, EAGAIN, false);
    cr_expect_eq(cio_to_thread(never_fn, NULL, NULL), -EAGAIN);
    cio__fault_reset();
    /* Nothing was left queued: the next call's worker runs only its own
     * item. */
    cr_expect_eq(to_thread_ok(noop_fn, 9), 9);
    return 0;
}

Test(to_thread, thread_creation_failure_is_clean)
{
    cr_assert_eq(cio_threadpool_configure(1, 1), 0);
    cr_assert_eq(cio_run(thread_fail_main, NULL), 0);
    cr_assert_eq(atomic_load(&never_ran), 0);
}
