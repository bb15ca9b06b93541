/* The process-wide thread pool behind cio_to_thread (asyncio.to_thread)
 * and, with its DNS share, the resolver.
 *
 * One pool serves every loop.  A task queues a work item that lives on its
 * own stack and parks; a worker runs fn(arg), stores the result and posts
 * the completion to the task's loop (cio__async_post, no allocation, so
 * completion cannot fail), where complete_cb wakes the task.
 *
 * Two FIFO queues, general and DNS, share the workers; a DNS item is only
 * taken while fewer than max_dns DNS items run, so a slow resolver cannot
 * occupy every worker.  Between the two queues the older item goes first.
 *
 * Workers are created lazily, one per item that finds no idle (or
 * starting) worker, up to max_threads; they are detached, exit after
 * IDLE_TIMEOUT_S without work, and never block process exit.  Signals are
 * blocked in them so process signals are delivered to loop threads.
 *
 * Cancellation: an item not yet picked up is removed and the call fails;
 * an item already running cannot be stopped and lives on the task's stack,
 * so the task waits for it uninterruptibly and returns its result (the
 * cancellation then hits the task's next blocking call).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/internal.h"

#define IDLE_TIMEOUT_S 10
#define DEFAULT_MAX_THREADS 16
#define DEFAULT_MAX_DNS 4

enum work_state { WORK_QUEUED, WORK_RUNNING, WORK_FINISHED };

typedef struct cio__work {
    cio__node node; /* in a pool queue while WORK_QUEUED */
    intptr_t (*fn)(void *);
    void *arg;
    intptr_t result;
    uint64_t seq; /* enqueue order across both queues */
    cio_loop *loop;
    cio_task *task;
    cio__async_entry done; /* the completion, posted to loop */
    enum work_state state; /* guarded by pool.mu */
    bool dns;
    bool completed; /* loop thread only: complete_cb has run */
} cio__work;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* work for idle workers; CLOCK_MONOTONIC */
    cio__node general, dns;
    size_t n_general, n_dns; /* queued items */
    uint64_t next_seq;
    unsigned threads;  /* live workers, including starting ones */
    unsigned starting; /* created but not yet looking for work */
    unsigned idle;     /* waiting on cv */
    unsigned dns_running;
    unsigned max_threads, max_dns;
    clockid_t clock; /* the clock cv's timed waits use */
} pool = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .max_threads = DEFAULT_MAX_THREADS,
    .max_dns = DEFAULT_MAX_DNS,
};

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_init(void)
{
    /* A monotonic clock keeps the idle timeout immune to wall-clock
     * jumps; fall back to the default clock if it is unavailable. */
    pthread_condattr_t attr;
    pool.clock = CLOCK_REALTIME;
    if (pthread_condattr_init(&attr) == 0) {
        if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0)
            pool.clock = CLOCK_MONOTONIC;
        if (pthread_cond_init(&pool.cv, &attr) != 0)
            pool.clock = CLOCK_REALTIME;
        pthread_condattr_destroy(&attr);
        if (pool.clock == CLOCK_MONOTONIC)
            return;
    }
    pthread_cond_init(&pool.cv, NULL);
}

/* ---- queue helpers (pool.mu held) --------------------------------------- */

static unsigned dns_slots(void)
{
    return pool.dns_running < pool.max_dns ? pool.max_dns - pool.dns_running : 0;
}

/* Items a worker could take right now. */
static size_t takeable(void)
{
    size_t slots = dns_slots();
    return pool.n_general + (pool.n_dns < slots ? pool.n_dns : slots);
}

static cio__work *queue_head(cio__node *q)
{
    cio__node *n = cio__list_first(q);
    return n ? cio__container_of(n, cio__work, node) : NULL;
}

static void dequeue(cio__work *w)
{
    cio__list_remove(&w->node);
    if (w->dns)
        pool.n_dns--;
    else
        pool.n_general--;
}

static cio__work *take(void)
{
    cio__work *g = queue_head(&pool.general);
    cio__work *d = dns_slots() ? queue_head(&pool.dns) : NULL;
    cio__work *w = g;
    if (!w || (d && d->seq < g->seq))
        w = d;
    if (w)
        dequeue(w);
    return w;
}

/* ---- workers ---------------------------------------------------------- */

static void *worker_main(void *unused);

/* Start one worker.  pool.mu held.  Returns 0 or a negative error. */
static int spawn_worker(void)
{
    /* The worker inherits the creator's signal mask: block everything
     * around the create so workers never take process signals. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t tid;
    errno = 0;
    int rc = cio__pthread_create(&tid, worker_main, NULL);
    int err = rc == 0 ? 0 : rc > 0 ? -rc : cio__err();
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err)
        return err;
    /* cio__pthread_create makes the thread detached: nothing joins it. */
    pool.threads++;
    pool.starting++;
    return 0;
}

/* Start workers while queued work outnumbers the workers that will look
 * for it (idle ones and ones still starting).  pool.mu held.  Returns the
 * first creation error, or 0. */
static int spawn_as_needed(void)
{
    while (takeable() > (size_t)pool.idle + pool.starting && pool.threads < pool.max_threads) {
        int err = spawn_worker();
        if (err)
            return err;
    }
    return 0;
}

static void complete_cb(void *arg)
{
    cio__work *w = arg;
    cio_loop *loop = w->loop;
    cio_task *task = w->task;
    /* The task may free w as soon as it runs, which is after we return:
     * unpark only makes it runnable. */
    w->completed = true;
    cio__unpark(task);
    cio__loop_unref(loop);
}

static void finish(cio__work *w, intptr_t result)
{
    w->result = result;
    w->state = WORK_FINISHED;
    w->done.fn = complete_cb;
    w->done.arg = w;
    w->done.heap = false;
    /* The loop cannot be closing: cio__to_thread holds a loop reference
     * until complete_cb runs.  Failing here would hang a task forever
     * with its memory in use, so treat it as the bug it would be. */
    if (cio__async_post(w->loop, &w->done) != 0) {
        fputs("cio: thread pool could not deliver a completion to its loop\n", stderr);
        abort();
    }
}

static void *worker_main(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&pool.mu);
    pool.starting--;
    for (;;) {
        /* cio_threadpool_configure may have lowered the limit. */
        if (pool.threads > pool.max_threads)
            break;
        cio__work *w = take();
        if (w) {
            w->state = WORK_RUNNING;
            if (w->dns)
                pool.dns_running++;
            pthread_mutex_unlock(&pool.mu);

            intptr_t result = w->fn(w->arg);

            pthread_mutex_lock(&pool.mu);
            if (w->dns) {
                pool.dns_running--;
                /* A DNS item may have been waiting for this slot while
                 * other workers sat idle. */
                if (pool.n_dns && pool.idle)
                    pthread_cond_signal(&pool.cv);
            }
            /* Posted under pool.mu so a cancelling task that sees
             * WORK_FINISHED knows the completion is on its way.  Lock
             * order is pool.mu -> the loop's async mutex, never reverse. */
            finish(w, result);
            continue;
        }

        struct timespec deadline;
        clock_gettime(pool.clock, &deadline);
        deadline.tv_sec += IDLE_TIMEOUT_S;
        pool.idle++;
        int rc = pthread_cond_timedwait(&pool.cv, &pool.mu, &deadline);
        pool.idle--;
        if (rc == ETIMEDOUT && takeable() == 0)
            break;
    }
    pool.threads--;
    pthread_mutex_unlock(&pool.mu);
    return NULL;
}

/* ---- the task side ----------------------------------------------------- */

int cio__to_thread(intptr_t (*fn)(void *), void *arg, intptr_t *result, bool dns)
{
    cio_task *task = cio__current();
    if (!task)
        return -EPERM; /* blocking calls need a task */
    if (!fn)
        return -EINVAL;
    /* An interrupted task must not start work it would have to wait for. */
    int err = cio__interrupted(task);
    if (err)
        return err;
    pthread_once(&pool_once, pool_init);

    cio__work w = {
        .fn = fn,
        .arg = arg,
        .loop = cio__loop(),
        .task = task,
        .state = WORK_QUEUED,
        .dns = dns,
    };

    pthread_mutex_lock(&pool.mu);
    w.seq = pool.next_seq++;
    if (dns) {
        cio__list_push_back(&pool.dns, &w.node);
        pool.n_dns++;
    } else {
        cio__list_push_back(&pool.general, &w.node);
        pool.n_general++;
    }
    err = spawn_as_needed();
    if (err && pool.threads == 0) {
        /* Nobody would ever run it.  With workers alive the item simply
         * waits for one of them. */
        dequeue(&w);
        pthread_mutex_unlock(&pool.mu);
        return err;
    }
    if (pool.idle)
        pthread_cond_signal(&pool.cv);
    pthread_mutex_unlock(&pool.mu);

    /* Keep the loop running until complete_cb has run, even if this task
     * is the only thing it would otherwise wait for. */
    cio__loop_ref(w.loop);

    err = 0;
    while (!w.completed) {
        err = cio__park();
        if (err)
            break;
    }
    if (err) {
        pthread_mutex_lock(&pool.mu);
        if (w.state == WORK_QUEUED) {
            dequeue(&w);
            pthread_mutex_unlock(&pool.mu);
            cio__loop_unref(w.loop);
            return err;
        }
        pthread_mutex_unlock(&pool.mu);
        /* A worker holds &w: wait for it whatever happens.  The pending
         * cancellation or expired scope stays in force and hits the
         * task's next blocking call. */
        while (!w.completed)
            cio__park_uninterruptible();
    }
    if (result)
        *result = w.result;
    return 0;
}

int cio_to_thread(intptr_t (*fn)(void *arg), void *arg, intptr_t *result)
{
    return cio__to_thread(fn, arg, result, false);
}

int cio_threadpool_configure(unsigned max_threads, unsigned max_dns)
{
    if (max_dns < 1 || max_dns > max_threads)
        return -EINVAL;
    pthread_once(&pool_once, pool_init);
    pthread_mutex_lock(&pool.mu);
    pool.max_threads = max_threads;
    pool.max_dns = max_dns;
    /* Raised limits may make queued work runnable now: wake idle workers
     * (surplus ones exit when they find threads > max_threads) and start
     * new ones if needed.  A creation failure here is not the caller's
     * problem: the queued items' own workers will still run them. */
    pthread_cond_broadcast(&pool.cv);
    (void)spawn_as_needed();
    pthread_mutex_unlock(&pool.mu);
    return 0;
}
