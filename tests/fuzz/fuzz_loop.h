/* One cio loop for the whole fuzzing process.
 *
 * Creating a loop per input (cio_run) costs an epoll fd, an eventfd and a
 * fresh stack cache every time, which dominated the harnesses' run time.
 * Instead a thread runs one loop for the process's life; fuzz_loop_run
 * hands it a function, which runs as a task on that loop, and waits for
 * its result.  Whatever an input leaves behind (a task, a stream, memory)
 * therefore stays visible to the next inputs and to LeakSanitizer. */
#ifndef CIO_FUZZ_LOOP_H
#define CIO_FUZZ_LOOP_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "cio.h"

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    cio_loop *loop;
    cio_event work; /* set on the loop's thread when fn is ready */
    cio_task_fn fn;
    void *arg;
    intptr_t result;
    bool done;
} fuzz_loop = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void fuzz_loop_finish(intptr_t result)
{
    pthread_mutex_lock(&fuzz_loop.mu);
    fuzz_loop.result = result;
    fuzz_loop.done = true;
    pthread_cond_broadcast(&fuzz_loop.cv);
    pthread_mutex_unlock(&fuzz_loop.mu);
}

static intptr_t fuzz_loop_main(void *arg)
{
    (void)arg;
    cio_event_init(&fuzz_loop.work);
    pthread_mutex_lock(&fuzz_loop.mu);
    fuzz_loop.loop = cio_loop_current();
    pthread_cond_broadcast(&fuzz_loop.cv);
    pthread_mutex_unlock(&fuzz_loop.mu);
    for (;;) {
        if (cio_event_wait(&fuzz_loop.work) != 0)
            abort();
        cio_event_clear(&fuzz_loop.work);
        fuzz_loop_finish(fuzz_loop.fn(fuzz_loop.arg));
    }
    return 0;
}

static void *fuzz_loop_thread(void *arg)
{
    (void)arg;
    intptr_t rc = cio_run(fuzz_loop_main, NULL);
    fprintf(stderr, "fuzz_loop: cio_run returned %ld\n", (long)rc);
    abort();
}

static void fuzz_loop_wake(void *arg)
{
    (void)arg;
    cio_event_set(&fuzz_loop.work);
}

/* Run fn(arg) as a task on the process's loop; returns its result. */
static intptr_t fuzz_loop_run(cio_task_fn fn, void *arg)
{
    pthread_mutex_lock(&fuzz_loop.mu);
    if (!fuzz_loop.loop) {
        if (pthread_create(&fuzz_loop.thread, NULL, fuzz_loop_thread, NULL) != 0)
            abort();
        while (!fuzz_loop.loop)
            pthread_cond_wait(&fuzz_loop.cv, &fuzz_loop.mu);
    }
    fuzz_loop.fn = fn;
    fuzz_loop.arg = arg;
    fuzz_loop.done = false;
    pthread_mutex_unlock(&fuzz_loop.mu);
    if (cio_call_soon_threadsafe(fuzz_loop.loop, fuzz_loop_wake, NULL) != 0)
        abort();
    pthread_mutex_lock(&fuzz_loop.mu);
    while (!fuzz_loop.done)
        pthread_cond_wait(&fuzz_loop.cv, &fuzz_loop.mu);
    intptr_t result = fuzz_loop.result;
    pthread_mutex_unlock(&fuzz_loop.mu);
    return result;
}

#endif
