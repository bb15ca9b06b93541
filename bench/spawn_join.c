/* Spawn + join of a trivial task, in a loop, with a warm stack pool.
 *
 *   spawn_join.pair        cio_spawn then cio_join of a task that returns at
 *                          once, one at a time: ns per spawn+join pair
 *   spawn_join.batch_64    spawn 64 tasks, then join the 64: ns per task
 *                          (the loop-iteration cost is shared by 64 tasks)
 *
 * Each is measured RUNS times; the median is printed as "name value unit". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cio.h>

#include "bench_util.h"

enum { RUNS = 7, PAIRS = 200000, BATCH = 64 };

static intptr_t trivial(void *arg)
{
    return (intptr_t)arg;
}

static double pair_run(void)
{
    int64_t t0 = now_ns();
    for (long i = 0; i < PAIRS; i++) {
        cio_task *t;
        intptr_t r;
        if (cio_spawn(&t, trivial, (void *)(intptr_t)i, NULL) != 0 || cio_join(t, &r) != 0 ||
            r != i)
            abort();
    }
    return (double)(now_ns() - t0) / PAIRS;
}

static double batch_run(void)
{
    cio_task *t[BATCH];
    int64_t t0 = now_ns();
    for (long i = 0; i < PAIRS / BATCH; i++) {
        for (int j = 0; j < BATCH; j++)
            if (cio_spawn(&t[j], trivial, NULL, NULL) != 0)
                abort();
        for (int j = 0; j < BATCH; j++)
            cio_join(t[j], NULL);
    }
    return (double)(now_ns() - t0) / ((PAIRS / BATCH) * BATCH);
}

static intptr_t bench_main(void *arg)
{
    double *out = arg, v[RUNS];
    batch_run(); /* warm the stack pool (it keeps up to 64 stacks warm) */
    pair_run();
    for (int r = 0; r < RUNS; r++)
        v[r] = pair_run();
    out[0] = median(v, RUNS);
    for (int r = 0; r < RUNS; r++)
        v[r] = batch_run();
    out[1] = median(v, RUNS);
    return 0;
}

int main(void)
{
    double out[2];
    intptr_t rc = cio_run(bench_main, out);
    if (rc != 0) {
        fprintf(stderr, "spawn_join: cio_run failed: %s\n", cio_strerror((int)rc));
        return 1;
    }
    printf("spawn_join.pair %.1f ns/pair\n", out[0]);
    printf("spawn_join.batch_64 %.1f ns/task\n", out[1]);
    return 0;
}
