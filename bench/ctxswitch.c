/* Context switch cost.
 *
 *   ctxswitch.yield_2      two tasks ping-ponging with cio_yield: total time
 *                          divided by the number of yields (each yield is
 *                          one suspend + one resume of a task)
 *   ctxswitch.yield_64     the same with 64 tasks, so the once-per-iteration
 *                          loop work (backend poll, clock, timers) is spread
 *                          over 64 yields instead of 2
 *   ctxswitch.raw          cio__ctx_switch alone between two contexts (the
 *                          assembly, no scheduler), ns per switch
 *
 * Each is measured RUNS times; the median is printed as "name value unit".
 * Links the static library: cio__ctx_switch is hidden in the shared one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cio.h>

#include "bench_util.h"

#include "arch/arch.h"

enum { RUNS = 7 };

/* ---- yield ping-pong ------------------------------------------------------ */

static long yields_per_task;

static intptr_t yielder(void *arg)
{
    (void)arg;
    for (long i = 0; i < yields_per_task; i++)
        cio_yield();
    return 0;
}

/* ns per yield with ntasks tasks each yielding yields_per_task times. */
static double yield_run(int ntasks)
{
    cio_task *t[64];
    int64_t t0 = now_ns();
    for (int i = 0; i < ntasks; i++)
        if (cio_spawn(&t[i], yielder, NULL, NULL) != 0)
            abort();
    for (int i = 0; i < ntasks; i++)
        cio_join(t[i], NULL);
    int64_t t1 = now_ns();
    return (double)(t1 - t0) / ((double)ntasks * (double)yields_per_task);
}

static intptr_t yield_main(void *arg)
{
    double *out = arg;
    double v[RUNS];
    yields_per_task = 1000000;
    yield_run(2); /* warm-up */
    for (int r = 0; r < RUNS; r++)
        v[r] = yield_run(2);
    out[0] = median(v, RUNS);
    yields_per_task = 1000000 / 32;
    yield_run(64);
    for (int r = 0; r < RUNS; r++)
        v[r] = yield_run(64);
    out[1] = median(v, RUNS);
    return 0;
}

/* ---- raw cio__ctx_switch ------------------------------------------------- */

enum { RAW_ROUNDS = 10000000 };

static cio__ctx main_ctx, other_ctx;

static void other_entry(void *arg)
{
    (void)arg;
    for (;;)
        cio__ctx_switch(&other_ctx, &main_ctx);
}

static double raw_run(void)
{
    int64_t t0 = now_ns();
    for (long i = 0; i < RAW_ROUNDS; i++)
        cio__ctx_switch(&main_ctx, &other_ctx);
    int64_t t1 = now_ns();
    return (double)(t1 - t0) / (2.0 * RAW_ROUNDS); /* two switches per round */
}

static double raw_median(void)
{
    size_t size = 64 * 1024;
    void *stack = malloc(size);
    if (!stack)
        abort();
    cio__ctx_make(&other_ctx, stack, size, other_entry, NULL);
    double v[RUNS];
    raw_run();
    for (int r = 0; r < RUNS; r++)
        v[r] = raw_run();
    free(stack); /* other_ctx is parked in other_entry; never resumed again */
    return median(v, RUNS);
}

int main(void)
{
    double yield[2];
    intptr_t rc = cio_run(yield_main, yield);
    if (rc != 0) {
        fprintf(stderr, "ctxswitch: cio_run failed: %s\n", cio_strerror((int)rc));
        return 1;
    }
    printf("ctxswitch.yield_2 %.1f ns/yield\n", yield[0]);
    printf("ctxswitch.yield_64 %.1f ns/yield\n", yield[1]);
    printf("ctxswitch.raw %.1f ns/switch\n", raw_median());
    return 0;
}
