/* Waiting for tasks: join, wait_for, gather, task groups.
 *
 * As in asyncio, a waiter that is cancelled or times out cancels what it
 * waits for, and waits (shielded) until that has actually finished before
 * returning, so no task outlives the call that owned it. */
#include "core/loop.h"

int cio_task_wait(cio_task *t)
{
    if (!t)
        return -EINVAL;
    if (t->state == CIO__TASK_DONE)
        return 0;
    if (t == cio__current())
        return -EDEADLK;
    cio__waiter w;
    return cio__wait_on(&t->joiners, &w);
}

void cio__task_wait_shielded(cio_task *t)
{
    cio_timeout shield;
    cio_shield_enter(&shield, -1);
    while (t->state != CIO__TASK_DONE && cio_task_wait(t) == 0)
        ;
    cio_timeout_exit(&shield);
}

int cio_join(cio_task *t, intptr_t *result)
{
    return cio_wait_for(t, -1, result);
}

int cio_wait_for(cio_task *t, double timeout, intptr_t *result)
{
    if (!t)
        return -EINVAL;
    if (!cio__current())
        return -EPERM;
    cio_timeout scope;
    cio_timeout_enter(&scope, timeout);
    int rc = cio_task_wait(t);
    bool expired = cio_timeout_exit(&scope);
    if (rc == -ECANCELED || rc == -ETIMEDOUT) {
        cio_cancel(t);
        cio__task_wait_shielded(t);
        /* Our own deadline: -ETIMEDOUT unless the task finished anyway
         * without being cancelled (asyncio 3.12 wait_for). */
        if (expired && rc == -ETIMEDOUT && t->result != -ECANCELED)
            rc = 0;
    }
    if (rc == 0 && result)
        *result = t->result;
    cio__task_release(t);
    return rc;
}

int cio_gather(cio_task *const *tasks, size_t n, intptr_t *results)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = cio_task_wait(tasks[i]);
    if (rc) {
        for (size_t i = 0; i < n; i++)
            cio_cancel(tasks[i]);
        for (size_t i = 0; i < n; i++)
            cio__task_wait_shielded(tasks[i]);
    }
    for (size_t i = 0; i < n; i++) {
        if (results)
            results[i] = tasks[i]->result;
        cio__task_release(tasks[i]);
    }
    return rc;
}

/* ---- task groups ----------------------------------------------------------- */

void cio_group_init(cio_task_group *g)
{
    *g = (cio_task_group){0};
    cio__list_init(&g->tasks);
}

int cio_group_spawn(cio_task_group *g, cio_task **out, cio_task_fn fn, void *arg,
                    const cio_task_opts *opts)
{
    if (g->cancelling)
        return -ECANCELED;
    cio_task *t;
    int rc = cio_spawn(&t, fn, arg, opts);
    if (rc)
        return rc;
    t->group = g;
    cio__list_push_back(&g->tasks, &t->group_node);
    g->live++;
    if (out)
        *out = t;
    return 0;
}

void cio_group_cancel(cio_task_group *g)
{
    cio__node *n, *tmp;
    g->cancelling = true;
    cio__list_each_safe(n, tmp, &g->tasks)
    {
        cio_cancel(cio__container_of(n, cio_task, group_node));
    }
}

static int wait_children(cio_task_group *g)
{
    int rc = 0;
    g->waiter = cio__current();
    while (g->live > 0 && rc == 0)
        rc = cio__park();
    g->waiter = NULL;
    return rc;
}

int cio_group_wait(cio_task_group *g)
{
    int rc = wait_children(g);
    if (rc) {
        cio_group_cancel(g);
        cio_timeout shield;
        cio_shield_enter(&shield, -1);
        wait_children(g);
        cio_timeout_exit(&shield);
    }
    cio__node *n;
    while ((n = cio__list_pop_front(&g->tasks))) {
        cio_task *t = cio__container_of(n, cio_task, group_node);
        t->group = NULL;
        cio__task_release(t);
    }
    return g->first_error ? (int)g->first_error : rc;
}
