/* The loop and task structures, shared by the files of the loop and task
 * layers (loop.c, task.c, scope.c, group.c, timer.c, io.c). */
#ifndef CIO_LOOP_H
#define CIO_LOOP_H

#include "arch/arch.h"
#include "core/internal.h"

enum cio__task_state {
    CIO__TASK_READY, /* in the ready queue */
    CIO__TASK_RUNNING,
    CIO__TASK_PARKED, /* suspended in cio__park */
    CIO__TASK_DONE,
};

struct cio_task {
    /* ---- hot: what parking and waking touch, in one cache line ---- */
    cio__ctx ctx;
    cio__node ready_node; /* loop->ready while READY */
    cio_loop *loop;
    cio_timeout *scope; /* innermost timeout scope */
    int wake_status;    /* what cio__park returns */
    uint8_t state;
    bool interruptible;
    bool cancel_requested;

    cio__node live_node;  /* loop->live until DONE, then loop->finished */
    cio__node group_node; /* group->tasks while in a group */
    cio__node joiners;    /* tasks in cio_task_wait */
    cio_task_group *group;
    cio__stack *stack;
    cio_task_fn fn;
    void *arg;
    intptr_t result;
    void *asan_fake_stack;
    unsigned refs; /* the handle + 1 while not done */
    uint64_t id;
    char name[32];
};

/* While tasks stay ready, I/O is polled only every CIO__BUSY_POLL_INTERVAL
 * iterations (Tokio's event_interval is 61): a zero-timeout epoll_wait
 * per iteration would cost more than the tasks' own work when they only
 * yield.  Timers are still checked every iteration. */
enum { CIO__BUSY_POLL_INTERVAL = 64 };

struct cio__timer_slot {
    int64_t deadline;
    uint64_t seq;
    cio__timer *timer;
};

struct cio_loop {
    cio__ctx ctx; /* the scheduler, on the thread's own stack */
    cio_task *current;
    cio_task *dying;
    cio_task *main_task; /* finished task whose stack the loop must free */
    cio__node ready;
    size_t nready;
    size_t batch;             /* tasks left to run in this iteration */
    unsigned busy_iterations; /* iterations since I/O was last polled */
    cio__node live;           /* unfinished tasks */
    cio__node finished;       /* finished tasks whose handle is still held */
    size_t nlive;
    size_t refs;         /* outstanding cross-thread work */
    cio__node callbacks; /* cio__call_soon */
    int64_t now;
    struct cio__timer_slot *timers; /* the timer heap (timer.c) */
    size_t ntimers, timers_cap;
    uint64_t timer_seq;
    uint64_t next_task_id;
    const cio__backend *backend;
    cio__backend_state *backend_state;
    struct cio__async *async;
    cio__io async_io;
    struct cio__fd_watch **fd_watches; /* io.c: shared watchers of foreign fds, by fd */
    size_t nfd_watches;
    cio__stack_pool *stacks;
    size_t stack_size;
    const void *thread_stack_bottom; /* for ASan fiber switches */
    size_t thread_stack_size;
    bool debug;         /* debug mode (debug.h) */
    cio__node handles;  /* registered handles (debug mode: streams) */
    bool shutting_down; /* main has returned; cancelling the rest */
    bool closing;
};

void cio__fd_watches_free(cio_loop *loop);
int64_t cio__timers_next(cio_loop *loop);
void cio__timers_fire(cio_loop *loop);

/* Switch from the running task to the next ready one (or the loop). */
void cio__task_suspend(cio_loop *loop, cio_task *self);
/* Resume t from loop context. */
void cio__task_resume(cio_loop *loop, cio_task *t);
void cio__ready_push(cio_loop *loop, cio_task *t);
void cio__task_release(cio_task *t);
void cio__task_free_finished(cio_loop *loop);
void cio__task_free(cio_task *t);
/* Wake a parked task with status if it is interruptible (used by cancel
 * and scope expiry). */
void cio__task_interrupt(cio_task *t);
/* Wait for t to finish, ignoring cancellation and timeouts. */
void cio__task_wait_shielded(cio_task *t);

#endif
