/* The event loop: one per thread, created by cio_run.
 *
 * One iteration (docs/design.md):
 *   1. run the tasks that were ready when the iteration began, in FIFO
 *      order (tasks readied meanwhile wait for the next iteration, so a
 *      task that keeps yielding cannot starve I/O);
 *   2. run loop-context callbacks (cio__call_soon);
 *   3. poll the backend: no wait if tasks are ready, else until the next
 *      timer; ready fds wake their tasks;
 *   4. fire due timers (sleeps, timeout scopes). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/debug.h"
#include "core/loop.h"

static _Thread_local cio_loop *tls_loop;

cio_loop *cio__loop(void)
{
    return tls_loop;
}

cio_loop *cio_loop_current(void)
{
    return tls_loop;
}

const char *cio_loop_backend(const cio_loop *loop)
{
    return loop->backend->name;
}

void cio__loop_ref(cio_loop *loop)
{
    loop->refs++;
}

void cio__loop_unref(cio_loop *loop)
{
    loop->refs--;
}

/* ---- loop-context callbacks ------------------------------------------------ */

struct callback {
    cio__node node;
    void (*fn)(void *);
    void *arg;
};

int cio__call_soon(void (*fn)(void *), void *arg)
{
    cio_loop *loop = cio__loop();
    struct callback *cb = cio__malloc(sizeof(*cb));
    if (!cb)
        return -ENOMEM;
    cb->fn = fn;
    cb->arg = arg;
    cio__list_push_back(&loop->callbacks, &cb->node);
    return 0;
}

static void run_callbacks(cio_loop *loop)
{
    cio__node pending, *n;
    if (cio__list_empty(&loop->callbacks))
        return;
    /* Take the current list: callbacks added now run next iteration. */
    cio__list_init(&pending);
    cio__list_insert_before(loop->callbacks.next, &pending);
    cio__list_remove(&loop->callbacks);
    cio__list_init(&loop->callbacks);
    while ((n = cio__list_pop_front(&pending))) {
        struct callback *cb = cio__container_of(n, struct callback, node);
        cb->fn(cb->arg);
        cio__free(cb);
    }
}

/* ---- setup and teardown -------------------------------------------------------- */

static const cio__backend *choose_backend(enum cio_backend which)
{
    if (which == CIO_BACKEND_DEFAULT) {
        const char *env = getenv("CIO_BACKEND");
        if (env && strcmp(env, "poll") == 0)
            which = CIO_BACKEND_POLL;
    }
    return which == CIO_BACKEND_POLL ? &cio__backend_poll : &cio__backend_epoll;
}

static void async_ready(cio__io *io, bool readable, bool writable)
{
    (void)io, (void)writable;
    if (readable) /* an eventfd is always writable: that edge says nothing */
        cio__async_drain(cio__loop());
}

static void find_thread_stack(cio_loop *loop)
{
    pthread_attr_t attr;
    void *addr;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return;
    if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
        loop->thread_stack_bottom = addr;
        loop->thread_stack_size = size;
    }
    pthread_attr_destroy(&attr);
}

static void loop_free(cio_loop *loop);

static int loop_new(const cio_run_opts *opts, cio_loop **out)
{
    int rc = -ENOMEM;
    cio_loop *loop = cio__calloc(1, sizeof(*loop));
    if (!loop)
        return -ENOMEM;
    cio__list_init(&loop->ready);
    cio__list_init(&loop->live);
    cio__list_init(&loop->finished);
    cio__list_init(&loop->callbacks);
    cio__list_init(&loop->handles);
    loop->debug = cio__debug_default(opts && opts->debug);
    loop->async_io.fd = -1;
    loop->stack_size = opts && opts->stack_size ? opts->stack_size : cio_default_stack_size();
    loop->now = cio__clock_ns();
    find_thread_stack(loop);
    tls_loop = loop;
    loop->stacks = cio__stack_pool_new();
    if (!loop->stacks)
        goto out_free;
    loop->backend = choose_backend(opts ? opts->backend : CIO_BACKEND_DEFAULT);
    rc = loop->backend->init(&loop->backend_state);
    if (rc)
        goto out_free;
    rc = cio__async_init(loop);
    if (rc)
        goto out_free;
    rc = cio__io_open(&loop->async_io, cio__async_fd(loop));
    if (rc)
        goto out_free;
    loop->async_io.on_ready = async_ready;
    loop->async_io.want_read = true;
    rc = cio__stack_overflow_handler_install();
    if (rc)
        goto out_free;
    *out = loop;
    return 0;
out_free:
    loop_free(loop);
    return rc;
}

static void loop_free(cio_loop *loop)
{
    cio__node *n;
    loop->closing = true;
    cio__stack_overflow_handler_remove();
    if (loop->async_io.fd >= 0)
        cio__io_close(&loop->async_io);
    if (loop->async)
        cio__async_term(loop);
    run_callbacks(loop);
    cio__debug_report(loop);
    /* Handles the program never released. */
    while ((n = cio__list_first(&loop->finished)))
        cio__task_free(cio__container_of(n, cio_task, live_node));
    cio__fd_watches_free(loop);
    if (loop->backend_state)
        loop->backend->term(loop->backend_state);
    cio__stack_pool_free(loop->stacks);
    cio__free(loop->timers);
    cio__free(loop);
    tls_loop = NULL;
}

/* ---- running ------------------------------------------------------------------------ */

/* Nothing left to wait for: main has returned and, once shutting down,
 * every task and every cross-thread completion is done. */
static bool finished(const cio_loop *loop)
{
    if (!cio_task_done(loop->main_task))
        return false;
    return !loop->shutting_down || (loop->nlive == 0 && loop->refs == 0);
}

static void run_once(cio_loop *loop)
{
    loop->batch = loop->nready;
    while (loop->batch > 0) {
        cio__node *n = cio__list_pop_front(&loop->ready);
        loop->batch--;
        loop->nready--;
        cio__task_resume(loop, cio__container_of(n, cio_task, ready_node));
    }
    run_callbacks(loop);

    int64_t timeout = -1;
    if (loop->nready || !cio__list_empty(&loop->callbacks) || finished(loop)) {
        if (++loop->busy_iterations < CIO__BUSY_POLL_INTERVAL) {
            if (loop->ntimers) {
                loop->now = cio__clock_ns();
                cio__timers_fire(loop);
            }
            return;
        }
        timeout = 0;
    } else if (loop->ntimers) {
        timeout = cio__timers_next(loop) - cio__clock_ns();
        if (timeout < 0)
            timeout = 0;
    }
    loop->busy_iterations = 0;
    loop->backend->poll(loop->backend_state, timeout);
    if (loop->ntimers) {
        loop->now = cio__clock_ns();
        cio__timers_fire(loop);
    }
}

static void cancel_all(cio_loop *loop)
{
    cio__node *n, *tmp;
    cio__list_each_safe(n, tmp, &loop->live)
    {
        cio_cancel(cio__container_of(n, cio_task, live_node));
    }
}

intptr_t cio_run_opts_(cio_task_fn main, void *arg, const cio_run_opts *opts)
{
    cio_loop *loop;
    cio_task *main_task;
    if (tls_loop)
        return -EBUSY;
    if (!main)
        return -EINVAL;
    int rc = loop_new(opts, &loop);
    if (rc)
        return rc;
    rc = cio_spawn(&main_task, main, arg, &(cio_task_opts){.name = "main"});
    if (rc) {
        loop_free(loop);
        return rc;
    }
    loop->main_task = main_task;
    while (!cio_task_done(main_task))
        run_once(loop);
    intptr_t result = cio_task_result(main_task);

    /* asyncio.run: cancel what is left and let it finish. */
    loop->shutting_down = true;
    while (loop->nlive || loop->refs || loop->nready) {
        cancel_all(loop);
        run_once(loop);
    }
    cio__task_release(main_task);
    loop_free(loop);
    return result;
}

void cio_set_debug(bool on)
{
    cio_loop *loop = cio__loop();
    if (loop)
        loop->debug = on;
}

bool cio_get_debug(void)
{
    cio_loop *loop = cio__loop();
    return loop && loop->debug;
}

intptr_t cio_run(cio_task_fn main, void *arg)
{
    return cio_run_opts_(main, arg, NULL);
}
