/* cio — asyncio's Streams model for C.
 *
 * One event loop per thread runs stackful coroutines ("tasks").  Blocking
 * calls (sleep, lock, read, drain, ...) suspend only the calling task.
 *
 * Conventions, for every function below:
 *  - Functions that can fail return 0 (or a byte count) on success and a
 *    negative error code on failure: -errno for system conditions, CIO_E*
 *    (include/cio/errno.h) for cio's own.  Never -1 with errno.
 *  - Any blocking call may return -ECANCELED (the task was cancelled, see
 *    cio_cancel) or -ETIMEDOUT (an enclosing timeout scope expired, see
 *    cio_timeout_enter).  A blocking call that fails that way has had no
 *    effect: no bytes consumed, no lock taken, no item removed.
 *  - Time is in seconds as double, like asyncio.
 *  - Blocking calls may only be made from a task (inside cio_run); made
 *    anywhere else they return -EPERM, and so does cio_spawn outside a
 *    loop.
 *
 * Sections follow the layers of docs/design.md: errors, loop, tasks,
 * timeouts, sync primitives, threads, fd waits.
 */
#ifndef CIO_H
#define CIO_H

#include <errno.h> /* cio returns -errno codes: -ETIMEDOUT, -ECANCELED, ... */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cio/errno.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CIO_VERSION_MAJOR 0
#define CIO_VERSION_MINOR 1
#define CIO_VERSION_PATCH 0

#if defined(__GNUC__)
#define CIO_EXTERN __attribute__((visibility("default")))
#else
#define CIO_EXTERN
#endif

/* ======================================================================
 * Errors
 * ====================================================================== */

/* A human-readable message for any cio return code (-errno or CIO_E*). */
CIO_EXTERN const char *cio_strerror(int err);
/* The symbolic name of a code: "ECONNRESET", "CIO_ELIMIT", ... */
CIO_EXTERN const char *cio_err_name(int err);

/* ======================================================================
 * Private building blocks embedded in caller-memory objects (timeout
 * scopes, task groups, sync primitives).  Do not touch their fields.
 * ====================================================================== */

typedef struct cio__node {
    struct cio__node *prev, *next;
} cio__node;

typedef struct cio__timer {
    int64_t deadline; /* monotonic ns */
    uint64_t seq;     /* insertion order: equal deadlines fire FIFO */
    size_t index;     /* position in the loop's timer heap, or SIZE_MAX */
    void (*cb)(struct cio__timer *);
} cio__timer;

/* ======================================================================
 * Event loop
 * ====================================================================== */

typedef struct cio_loop cio_loop;
typedef struct cio_task cio_task;

/* A task's body.  Its return value is the task's result; by convention a
 * negative value is an error code. */
typedef intptr_t (*cio_task_fn)(void *arg);

/* I/O backends.  CIO_BACKEND_DEFAULT is epoll on Linux; the CIO_BACKEND
 * environment variable ("epoll" or "poll") overrides the default. */
enum cio_backend { CIO_BACKEND_DEFAULT = 0, CIO_BACKEND_EPOLL, CIO_BACKEND_POLL };

typedef struct cio_run_opts {
    enum cio_backend backend;
    size_t stack_size; /* default stack size of tasks in this loop; 0 = cio_default_stack_size() */
    /* Debug mode (asyncio's debug=True); also on when the CIO_DEBUG
     * environment variable is set to anything but "0".  See cio_set_debug. */
    bool debug;
} cio_run_opts;

/* asyncio.run: creates a loop on this thread, runs main(arg) as the first
 * task until it returns, then cancels every task still alive and waits for
 * them, and closes the loop.  Returns main's result, or a negative error
 * if the loop could not be created (-ENOMEM, -EMFILE, -EBUSY if a loop is
 * already running on this thread). */
CIO_EXTERN intptr_t cio_run(cio_task_fn main, void *arg);
/* cio_run with options (backend, default stack size); opts may be NULL.
 * Call it as cio_run_with(main, arg, opts). */
CIO_EXTERN intptr_t cio_run_opts_(cio_task_fn main, void *arg, const cio_run_opts *opts);
#define cio_run_with(main, arg, opts) cio_run_opts_(main, arg, opts)

/* Debug mode of the loop running on this thread (asyncio's
 * loop.set_debug / get_debug; no-op and false without a loop).  In debug
 * mode each stream opened records the task and call stack that opened it,
 * and when the loop closes (the end of cio_run) every stream still alive
 * — never closed, or closed but never released — is reported on stderr
 * with that call stack: asyncio's ResourceWarning "unclosed StreamWriter".
 * A server's failed TLS handshakes, which never reach the handler, are
 * logged too ("cio debug: ...", with OpenSSL's reason), as asyncio logs
 * "SSL handshake failed" in debug mode.  Link with -rdynamic to see
 * function names in the stacks.  It costs a stack walk per stream opened;
 * nothing else changes. */
CIO_EXTERN void cio_set_debug(bool on);
CIO_EXTERN bool cio_get_debug(void);

/* The loop running on this thread, or NULL. */
CIO_EXTERN cio_loop *cio_loop_current(void);
/* Name of the loop's I/O backend: "epoll" or "poll". */
CIO_EXTERN const char *cio_loop_backend(const cio_loop *loop);

/* Monotonic time in seconds (asyncio loop.time()). */
CIO_EXTERN double cio_time(void);

/* asyncio loop.call_soon_threadsafe: from any thread, schedule fn(arg) to
 * run on loop's thread.  fn runs outside any task and must not block; it
 * may set events, put to queues without waiting, spawn tasks.  Returns 0,
 * -ENOMEM, or -ESHUTDOWN if the loop is closing (fn will not run). */
CIO_EXTERN int cio_call_soon_threadsafe(cio_loop *loop, void (*fn)(void *arg), void *arg);

/* ======================================================================
 * Tasks
 * ====================================================================== */

/* Default task stack size: 256 KiB.  Memory is only committed as the
 * stack is touched; each stack has a guard page below it, and overflowing
 * it aborts with a message naming the task. */
#define CIO_DEFAULT_STACK_SIZE (256u * 1024u)
#define CIO_MIN_STACK_SIZE (16u * 1024u)

/* The process-wide default stack size of new loops' tasks. */
CIO_EXTERN size_t cio_default_stack_size(void);
/* Set the process-wide default for loops created afterwards (rounded up to
 * whole pages, at least CIO_MIN_STACK_SIZE).  Returns -EINVAL if too big. */
CIO_EXTERN int cio_set_default_stack_size(size_t size);

typedef struct cio_task_opts {
    const char *name;  /* copied; shown in overflow reports and debug dumps */
    size_t stack_size; /* 0 = the loop's default */
} cio_task_opts;

/* asyncio.create_task: start fn(arg) as a new task; it first runs on the
 * next loop iteration.  If out is non-NULL it receives a handle that the
 * caller must eventually give back with cio_join, cio_wait_for or
 * cio_detach (like pthread_join/detach); with out == NULL the task is
 * detached.  opts may be NULL.  Returns 0, -ENOMEM, -EINVAL, -EPERM. */
CIO_EXTERN int cio_spawn(cio_task **out, cio_task_fn fn, void *arg, const cio_task_opts *opts);

/* await task: wait for t to finish, store its result in *result (may be
 * NULL) and release the handle.  If the waiting task is cancelled or its
 * timeout expires first, t is cancelled too (as awaiting a task does in
 * asyncio), waited for, released, and that error is returned.  The handle
 * is always released: it must not be used after cio_join returns. */
CIO_EXTERN int cio_join(cio_task *t, intptr_t *result);

/* asyncio.wait_for(task, timeout): cio_join with a deadline.  On timeout t
 * is cancelled and waited for; the call returns -ETIMEDOUT (or 0 with the
 * result if t finished anyway without being cancelled).  timeout < 0 waits
 * forever.  Always releases t. */
CIO_EXTERN int cio_wait_for(cio_task *t, double timeout, intptr_t *result);

/* asyncio.gather: wait for every task, store results[i] (may be NULL),
 * release all handles.  If the caller is cancelled or times out, every
 * unfinished task is cancelled and waited for, and the error returned. */
CIO_EXTERN int cio_gather(cio_task *const *tasks, size_t n, intptr_t *results);

/* Wait for t to finish without consuming or cancelling it (asyncio.wait
 * with one task, or await shield(task)).  Interruptible. */
CIO_EXTERN int cio_task_wait(cio_task *t);

/* Release a handle without waiting; the task runs on (asyncio: dropping
 * the reference to a task you keep alive elsewhere). */
CIO_EXTERN void cio_detach(cio_task *t);

/* Request cancellation: t's current or next blocking call that has to
 * wait (and cio_yield, which always does) returns -ECANCELED, and so does
 * every such call after it, outside shielded scopes.  A call that can
 * complete at once (a drain below the high water mark, a read from the
 * buffer) still succeeds.  Idempotent.  Returns false if t has already
 * finished. */
CIO_EXTERN bool cio_cancel(cio_task *t);

/* The running task, or NULL outside a task. */
CIO_EXTERN cio_task *cio_current(void);
/* t's name: the one given at spawn, or "Task-N". */
CIO_EXTERN const char *cio_task_name(const cio_task *t);
/* True once t's function has returned (asyncio Task.done()). */
CIO_EXTERN bool cio_task_done(const cio_task *t);
/* True once cancel was requested for t (asyncio Task.cancelling()). */
CIO_EXTERN bool cio_task_cancel_requested(const cio_task *t);
/* t's result; only meaningful once cio_task_done(t). */
CIO_EXTERN intptr_t cio_task_result(const cio_task *t);

/* asyncio.sleep(0): let every other ready task run first.  Returns 0, or
 * -ECANCELED / -ETIMEDOUT like any blocking call. */
CIO_EXTERN int cio_yield(void);
/* asyncio.sleep(seconds).  Returns 0, -ECANCELED, -ETIMEDOUT, -ENOMEM. */
CIO_EXTERN int cio_sleep(double seconds);

/* ======================================================================
 * Timeout scopes (asyncio.timeout, Trio cancel scopes)
 *
 *     cio_timeout scope;
 *     cio_timeout_enter(&scope, 5.0);
 *     n = cio_readline(r, buf, sizeof buf);   // -ETIMEDOUT after 5 s
 *     if (cio_timeout_exit(&scope)) puts("timed out");
 *
 * Every blocking call inside an expired scope fails with -ETIMEDOUT.
 * Scopes nest and must be exited in reverse order of entry.  The scope
 * lives in caller memory (usually the stack) between enter and exit.
 * ====================================================================== */

typedef struct cio_timeout {
    /* private */
    cio__timer timer;
    struct cio_timeout *outer;
    cio_task *task;
    bool shield;
    bool expired;
} cio_timeout;

/* Enter a scope that expires `seconds` from now (< 0 or INFINITY: never). */
CIO_EXTERN void cio_timeout_enter(cio_timeout *scope, double seconds);
/* Enter a shielded scope: inside it, cancellation and the deadlines of
 * outer scopes are ignored, so cleanup code can do bounded I/O in a
 * cancelled task.  Its own deadline (seconds, < 0 for none) still applies,
 * and a shielded scope without one can block forever: give it one. */
CIO_EXTERN void cio_shield_enter(cio_timeout *scope, double seconds);
/* Leave the scope.  Returns true if this scope's own deadline expired
 * (the counterpart of asyncio.timeout raising TimeoutError). */
CIO_EXTERN bool cio_timeout_exit(cio_timeout *scope);
/* Move the deadline (asyncio Timeout.reschedule); seconds < 0: never. */
CIO_EXTERN void cio_timeout_reschedule(cio_timeout *scope, double seconds);
/* True once this scope's own deadline has passed (Timeout.expired()). */
CIO_EXTERN bool cio_timeout_expired(const cio_timeout *scope);

/* ======================================================================
 * Task groups (asyncio.TaskGroup)
 *
 * Spawn tasks into a group, then cio_group_wait.  The first child that
 * returns a negative result (other than -ECANCELED) cancels its siblings;
 * cio_group_wait then returns that result.  The group owns its tasks.
 * ====================================================================== */

typedef struct cio_task_group {
    /* private */
    cio__node tasks;
    cio_task *waiter;
    intptr_t first_error;
    size_t live;
    bool cancelling;
} cio_task_group;

/* Prepare an empty group (a zero-filled group is also ready). */
CIO_EXTERN void cio_group_init(cio_task_group *g);
/* Spawn into g; out (may be NULL) is a borrowed handle valid until
 * cio_group_wait returns.  Fails with -ECANCELED once the group is
 * cancelling. */
CIO_EXTERN int cio_group_spawn(cio_task_group *g, cio_task **out, cio_task_fn fn, void *arg,
                               const cio_task_opts *opts);
/* Wait for every task; returns 0, the first child failure, or the
 * caller's own -ECANCELED/-ETIMEDOUT (after cancelling and reaping the
 * children).  Releases every task; g may be reused after cio_group_init. */
CIO_EXTERN int cio_group_wait(cio_task_group *g);
/* Cancel every task in the group. */
CIO_EXTERN void cio_group_cancel(cio_task_group *g);

/* ======================================================================
 * Threads: blocking work off the loop (asyncio.to_thread)
 * ====================================================================== */

/* Run fn(arg) on the process-wide thread pool and wait for it.  Returns 0
 * and stores fn's result in *result (may be NULL).  Cancelling (or timing
 * out) the waiting task before a worker has picked the work up removes it
 * and returns -ECANCELED / -ETIMEDOUT; once fn is running it cannot be
 * stopped, so the call waits for it and returns its result (the
 * cancellation then hits the task's next blocking call).  Returns -ENOMEM
 * or -EAGAIN if no worker thread can be created, -EPERM outside a task. */
CIO_EXTERN int cio_to_thread(intptr_t (*fn)(void *arg), void *arg, intptr_t *result);

/* Pool limits (process-wide, before first use or at any time): at most
 * max_threads workers (default 16), of which at most max_dns may run name
 * resolution at once (default 4), so slow DNS cannot starve other work.
 * Returns -EINVAL unless 1 <= max_dns <= max_threads. */
CIO_EXTERN int cio_threadpool_configure(unsigned max_threads, unsigned max_dns);

/* ======================================================================
 * Waiting on foreign file descriptors
 * ====================================================================== */

/* Suspend the task until fd is readable.  fd should be non-blocking.
 * Returns 0, -ECANCELED, -ETIMEDOUT, -EBADF, -EEXIST if another task is
 * already waiting on fd in that direction (or cio watches fd as a
 * stream), -ENOMEM.  One reader and one writer may wait at once. */
CIO_EXTERN int cio_wait_readable(int fd);
/* Suspend the task until fd is writable; as cio_wait_readable. */
CIO_EXTERN int cio_wait_writable(int fd);

#ifdef __cplusplus
}
#endif

#include "cio/sync.h"

#include "cio/stream.h"

/* A build configured with -DCIO_TLS=OFF defines CIO_NO_TLS for itself and
 * for the programs built against it: no TLS API then. */
#ifndef CIO_NO_TLS
#include "cio/tls.h"
#endif

#endif
