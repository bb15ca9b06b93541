/* Tasks: spawn, the switch between tasks and the loop, park/unpark,
 * cancellation, yield and sleep.
 *
 * A task runs until it blocks.  Blocking means parking: the task marks
 * itself PARKED and switches away; whoever owns the wake-up (a timer, an
 * fd, a sync primitive) calls cio__unpark, which puts it back in the ready
 * queue.  The first wake wins, so a wake-up and a cancellation arriving
 * together never both take effect.  To save a switch, a task that blocks
 * hands the CPU straight to the next ready task of the current batch
 * instead of going through the loop. */
#include <stdio.h>
#include <string.h>

#include "core/loop.h"

void cio__ready_push(cio_loop *loop, cio_task *t)
{
    t->state = CIO__TASK_READY;
    cio__list_push_back(&loop->ready, &t->ready_node);
    loop->nready++;
}

static cio_task *ready_pop(cio_loop *loop)
{
    cio__node *n = cio__list_pop_front(&loop->ready);
    if (!n)
        return NULL;
    loop->nready--;
    return cio__container_of(n, cio_task, ready_node);
}

static void stop_dangling_scopes(cio_task *t)
{
    /* A task that returns inside a timeout scope leaves its timer armed on
     * a stack that is about to be reused. */
    for (cio_timeout *s = t->scope; s; s = s->outer)
        cio__timer_stop(&s->timer);
    t->scope = NULL;
}

static void group_child_done(cio_task *t);

static void task_finish(cio_task *t)
{
    stop_dangling_scopes(t);
    t->state = CIO__TASK_DONE;
    cio__list_remove(&t->live_node);
    cio__list_push_back(&t->loop->finished, &t->live_node);
    t->loop->nlive--;
    cio__wake_all(&t->joiners, 0);
    if (t->group)
        group_child_done(t);
}

/* Every task starts here, on its own stack. */
static void task_entry(void *arg)
{
    cio_task *t = arg;
    cio_loop *loop = t->loop;
    cio__asan_after_switch(NULL, NULL, NULL);
    t->result = t->fn(t->arg);
    task_finish(t);
    loop->dying = t;
    /* The loop frees this stack once we are off it. */
    cio__asan_before_switch(NULL, loop->thread_stack_bottom, loop->thread_stack_size);
    cio__ctx_switch(&t->ctx, &loop->ctx);
    __builtin_unreachable();
}

void cio__task_resume(cio_loop *loop, cio_task *t)
{
    void *fake = NULL;
    loop->current = t;
    t->state = CIO__TASK_RUNNING;
    cio__asan_before_switch(&fake, t->stack->base, t->stack->size);
    cio__ctx_switch(&loop->ctx, &t->ctx);
    cio__asan_after_switch(fake, NULL, NULL);
    loop->current = NULL;
    cio_task *dead = loop->dying;
    if (dead) {
        loop->dying = NULL;
        cio__stack_put(loop->stacks, dead->stack);
        dead->stack = NULL;
        cio__task_release(dead);
    }
}

/* Begin the loop's next iteration from here when it would do nothing but
 * run the ready tasks: no callbacks, no timers, and I/O not due (see
 * BUSY_POLL_INTERVAL in loop.c).  Saves two switches through the loop. */
static void maybe_start_batch(cio_loop *loop)
{
    if (loop->batch || !loop->nready || loop->ntimers || !cio__list_empty(&loop->callbacks) ||
        loop->busy_iterations + 1 >= CIO__BUSY_POLL_INTERVAL)
        return;
    loop->busy_iterations++;
    loop->batch = loop->nready;
}

void cio__task_suspend(cio_loop *loop, cio_task *self)
{
    maybe_start_batch(loop);
    cio_task *next = loop->batch ? ready_pop(loop) : NULL;
    if (next) {
        loop->batch--;
        loop->current = next;
        next->state = CIO__TASK_RUNNING;
        cio__asan_before_switch(&self->asan_fake_stack, next->stack->base, next->stack->size);
        cio__ctx_switch(&self->ctx, &next->ctx);
    } else {
        cio__asan_before_switch(&self->asan_fake_stack, loop->thread_stack_bottom,
                                loop->thread_stack_size);
        cio__ctx_switch(&self->ctx, &loop->ctx);
    }
    cio__asan_after_switch(self->asan_fake_stack, NULL, NULL);
}

/* ---- park / unpark ------------------------------------------------------ */

int cio__park(void)
{
    cio_loop *loop = cio__loop();
    cio_task *t = loop ? loop->current : NULL;
    if (!t)
        return -EPERM; /* blocking calls need a task */
    int rc = cio__interrupted(t);
    if (rc)
        return rc;
    t->state = CIO__TASK_PARKED;
    t->interruptible = true;
    t->wake_status = 0;
    cio__task_suspend(loop, t);
    return t->wake_status;
}

void cio__park_uninterruptible(void)
{
    cio_loop *loop = cio__loop();
    cio_task *t = loop->current;
    t->state = CIO__TASK_PARKED;
    t->interruptible = false;
    t->wake_status = 0;
    cio__task_suspend(loop, t);
}

void cio__unpark(cio_task *t)
{
    if (t->state != CIO__TASK_PARKED)
        return;
    t->wake_status = 0;
    cio__ready_push(t->loop, t);
}

void cio__task_interrupt(cio_task *t)
{
    if (t->state != CIO__TASK_PARKED || !t->interruptible)
        return;
    int rc = cio__interrupted(t);
    if (rc) {
        t->wake_status = rc;
        cio__ready_push(t->loop, t);
    }
}

int cio__wait_on(cio__node *q, cio__waiter *w)
{
    w->task = cio__current();
    if (!w->task)
        return -EPERM;
    w->value = 0;
    cio__list_push_back(q, &w->node);
    int rc = cio__park();
    if (rc && cio__node_linked(&w->node))
        cio__list_remove(&w->node);
    else if (rc)
        rc = 0; /* woken and interrupted at once: the wake-up wins */
    return rc;
}

cio__waiter *cio__wake_first(cio__node *q, intptr_t value)
{
    cio__node *n, *tmp;
    cio__list_each_safe(n, tmp, q)
    {
        cio__waiter *w = cio__container_of(n, cio__waiter, node);
        /* A waiter that is no longer parked was interrupted (cancelled or
         * timed out) and has not run yet: it will unlink itself and fail,
         * so the wake-up goes to the next one. */
        if (w->task->state != CIO__TASK_PARKED)
            continue;
        cio__list_remove(n);
        w->value = value;
        cio__unpark(w->task);
        return w;
    }
    return NULL;
}

void cio__wake_all(cio__node *q, intptr_t value)
{
    while (cio__wake_first(q, value))
        ;
}

/* ---- spawn --------------------------------------------------------------- */

int cio_spawn(cio_task **out, cio_task_fn fn, void *arg, const cio_task_opts *opts)
{
    cio_loop *loop = cio__loop();
    if (!loop)
        return -EPERM;
    if (!fn)
        return -EINVAL;
    size_t size = opts && opts->stack_size ? opts->stack_size : loop->stack_size;
    if (size < CIO_MIN_STACK_SIZE)
        size = CIO_MIN_STACK_SIZE;
    if (size > ((size_t)1 << 30))
        return -EINVAL;
    cio_task *t = cio__malloc(sizeof(*t));
    if (!t)
        return -ENOMEM;
    memset(t, 0, offsetof(cio_task, name) + 1);
    int rc = cio__stack_get(loop->stacks, size, &t->stack);
    if (rc) {
        cio__free(t);
        return rc;
    }
    cio__ctx_make(&t->ctx, t->stack->base, t->stack->size, task_entry, t);
    t->loop = loop;
    t->fn = fn;
    t->arg = arg;
    t->refs = out ? 2 : 1;
    t->id = ++loop->next_task_id;
    if (opts && opts->name)
        snprintf(t->name, sizeof(t->name), "%s", opts->name);
    cio__list_push_back(&loop->live, &t->live_node);
    loop->nlive++;
    cio__ready_push(loop, t);
    if (out)
        *out = t;
    return 0;
}

void cio__task_free(cio_task *t)
{
    cio__list_remove(&t->live_node);
    cio__free(t);
}

void cio__task_release(cio_task *t)
{
    if (--t->refs == 0)
        cio__task_free(t);
}

void cio_detach(cio_task *t)
{
    if (t)
        cio__task_release(t);
}

/* ---- cancel and accessors ------------------------------------------------ */

bool cio_cancel(cio_task *t)
{
    if (!t || t->state == CIO__TASK_DONE)
        return false;
    t->cancel_requested = true;
    cio__task_interrupt(t);
    return true;
}

cio_task *cio_current(void)
{
    return cio__current();
}

cio_task *cio__current(void)
{
    cio_loop *loop = cio__loop();
    return loop ? loop->current : NULL;
}

const char *cio_task_name(const cio_task *t)
{
    if (!t->name[0])
        snprintf(((cio_task *)t)->name, sizeof(t->name), "Task-%llu", (unsigned long long)t->id);
    return t->name;
}

bool cio_task_done(const cio_task *t)
{
    return t->state == CIO__TASK_DONE;
}

bool cio_task_cancel_requested(const cio_task *t)
{
    return t->cancel_requested;
}

intptr_t cio_task_result(const cio_task *t)
{
    return t->result;
}

/* ---- yield and sleep ----------------------------------------------------- */

int cio_yield(void)
{
    cio_loop *loop = cio__loop();
    cio_task *t = loop ? loop->current : NULL;
    if (!t)
        return -EPERM;
    int rc = cio__interrupted(t);
    if (rc)
        return rc;
    cio__ready_push(loop, t);
    cio__task_suspend(loop, t);
    /* Cancelled or timed out while queued: this yield is the blocking
     * call that reports it. */
    return cio__interrupted(t);
}

struct sleeper {
    cio__timer timer;
    cio_task *task;
};

static void sleep_done(cio__timer *timer)
{
    cio__unpark(cio__container_of(timer, struct sleeper, timer)->task);
}

int cio_sleep(double seconds)
{
    if (!(seconds > 0))
        return cio_yield();
    cio_task *t = cio__current();
    if (!t)
        return -EPERM;
    int rc = cio__interrupted(t);
    if (rc)
        return rc;
    struct sleeper s = {.task = t};
    cio__timer_init(&s.timer);
    rc = cio__timer_start(&s.timer, cio__deadline_after(seconds), sleep_done);
    if (rc)
        return rc;
    rc = cio__park();
    cio__timer_stop(&s.timer);
    return rc;
}

/* ---- groups: the child side ---------------------------------------------- */

static void group_child_done(cio_task *t)
{
    cio_task_group *g = t->group;
    g->live--;
    if (t->result < 0 && t->result != -ECANCELED && g->first_error == 0) {
        g->first_error = t->result;
        cio_group_cancel(g);
    }
    if (g->live == 0 && g->waiter)
        cio__unpark(g->waiter);
}
