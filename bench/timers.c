/* A million timers, through the internal timer API (src/core/internal.h).
 *
 *   timers.insert    arm 1,000,000 timers with random deadlines spread over
 *                    the last second (all already due), from inside a task:
 *                    total ms
 *   timers.fire      the task then waits on an event that the last timer
 *                    callback sets; the loop fires all 1,000,000 in deadline
 *                    order in one iteration: total ms (plus one loop
 *                    iteration and one switch, negligible here)
 *   timers.per_timer (insert + fire) / 1,000,000, ns
 *   timers.stop      arm 1,000,000 again (deadlines within the next hour) and
 *                    stop them all in random order, as timeout scopes that
 *                    are left before expiring do: total ms
 *
 * Each is measured RUNS times; the median is printed as "name value unit". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cio.h>

#include "bench_util.h"

#include "core/internal.h"

enum { RUNS = 7, NTIMERS = 1000000 };

/* xorshift64*: deterministic, so every run arms the same pattern. */
static uint64_t rng_state;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static cio__timer *timers;
static uint32_t *order;
static size_t fired;
static int64_t last_deadline;
static bool out_of_order;
static cio_event all_fired;

static void on_fire(cio__timer *t)
{
    if (t->deadline < last_deadline)
        out_of_order = true;
    last_deadline = t->deadline;
    if (++fired == NTIMERS)
        cio_event_set(&all_fired);
}

struct result {
    double insert_ms, fire_ms, stop_ms;
};

static void one_run(struct result *r)
{
    rng_state = 0x9E3779B97F4A7C15ULL;
    fired = 0;
    last_deadline = INT64_MIN;
    cio_event_init(&all_fired);

    int64_t now = cio__clock_ns(); /* deadlines are monotonic ns */
    int64_t t0 = now_ns();
    for (size_t i = 0; i < NTIMERS; i++) {
        cio__timer_init(&timers[i]);
        int64_t deadline = now - 1 - (int64_t)(rng() % 1000000000);
        if (cio__timer_start(&timers[i], deadline, on_fire) != 0)
            abort();
    }
    int64_t t1 = now_ns();
    cio_event_wait(&all_fired);
    int64_t t2 = now_ns();
    if (fired != NTIMERS || out_of_order) {
        fprintf(stderr, "timers: fired %zu of %d, %s\n", fired, NTIMERS,
                out_of_order ? "OUT OF ORDER" : "in order");
        exit(1);
    }

    now = cio__clock_ns();
    for (size_t i = 0; i < NTIMERS; i++) {
        cio__timer_init(&timers[i]);
        int64_t deadline = now + 3600 * (int64_t)1000000000 - (int64_t)(rng() % 1000000000);
        if (cio__timer_start(&timers[i], deadline, on_fire) != 0)
            abort();
    }
    int64_t t3 = now_ns();
    for (size_t i = 0; i < NTIMERS; i++)
        cio__timer_stop(&timers[order[i]]);
    int64_t t4 = now_ns();

    r->insert_ms = (double)(t1 - t0) / 1e6;
    r->fire_ms = (double)(t2 - t1) / 1e6;
    r->stop_ms = (double)(t4 - t3) / 1e6;
}

static intptr_t bench_main(void *arg)
{
    double *out = arg;
    double ins[RUNS], fire[RUNS], per[RUNS], stop[RUNS];
    timers = malloc(NTIMERS * sizeof(*timers));
    order = malloc(NTIMERS * sizeof(*order));
    if (!timers || !order)
        abort();
    /* A random permutation for the stop phase. */
    rng_state = 12345;
    for (uint32_t i = 0; i < NTIMERS; i++)
        order[i] = i;
    for (uint32_t i = NTIMERS - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(rng() % (i + 1));
        uint32_t tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    struct result r;
    one_run(&r); /* warm-up: grows the heap array to its final size */
    for (int i = 0; i < RUNS; i++) {
        one_run(&r);
        ins[i] = r.insert_ms;
        fire[i] = r.fire_ms;
        per[i] = (r.insert_ms + r.fire_ms) * 1e6 / NTIMERS;
        stop[i] = r.stop_ms;
    }
    out[0] = median(ins, RUNS);
    out[1] = median(fire, RUNS);
    out[2] = median(per, RUNS);
    out[3] = median(stop, RUNS);
    free(order);
    free(timers);
    return 0;
}

int main(void)
{
    double out[4];
    intptr_t rc = cio_run(bench_main, out);
    if (rc != 0) {
        fprintf(stderr, "timers: cio_run failed: %s\n", cio_strerror((int)rc));
        return 1;
    }
    printf("timers.insert %.1f ms\n", out[0]);
    printf("timers.fire %.1f ms\n", out[1]);
    printf("timers.per_timer %.1f ns\n", out[2]);
    printf("timers.stop %.1f ms\n", out[3]);
    return 0;
}
