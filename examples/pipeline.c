/* pipeline: producer and consumer tasks over a bounded queue, with
 * backpressure.
 *
 * The asyncio program it mirrors (the docs' Queue example, with a bounded
 * queue that producers have to wait for, and 3.13's Queue.shutdown):
 *
 *     async def producer(queue, p, n):
 *         for i in range(n):
 *             await queue.put((p, i))        # waits while the queue is full
 *
 *     async def consumer(queue):
 *         while True:
 *             try:
 *                 item = await queue.get()
 *             except asyncio.QueueShutDown:
 *                 return
 *             await asyncio.sleep(work)      # the work
 *             queue.task_done()
 *
 *     async def main():
 *         queue = asyncio.Queue(maxsize=4)
 *         async with asyncio.TaskGroup() as tg:
 *             for _ in range(3):
 *                 tg.create_task(consumer(queue))
 *             await asyncio.gather(*(producer(queue, p, 10) for p in range(2)))
 *             await queue.join()             # every item processed
 *             queue.shutdown()               # consumers get QueueShutDown
 *
 * What it shows:
 *  - cio_queue_put waits while the queue is full: fast producers are held
 *    to the pace of the slow consumers, and memory stays bounded
 *    (backpressure).  The program counts those waits.
 *  - cio_queue_task_done / cio_queue_join: "everything produced has been
 *    processed", then cio_queue_shutdown ends the consumers cleanly: their
 *    get returns CIO_EQUEUESHUTDOWN once the queue is empty.
 *  - cio_gather for the producers, a task group for the consumers.
 *  - The queue holds pointers and does not own them; here an item is
 *    small enough to travel in the pointer itself.
 *
 * Try it:  ./pipeline --producers 2 --consumers 3 --items 10 --queue-size 4 */
#include "common.h"

static struct {
    long producers, consumers, items, queue_size;
    double work;
} cfg = {2, 3, 10, 4, 0.01};

static cio_queue queue;
static size_t max_depth;    /* the most items the queue ever held */
static long waits;          /* puts that found the queue full */
static unsigned char *seen; /* seen[p * items + i]: item (p, i) consumed */
static long *next_from;     /* next_from[p]: the item of p expected next */
static bool out_of_order;

/* An item (producer p, number i) travels as the integer p * items + i. */
static intptr_t producer(void *arg)
{
    long p = (long)(intptr_t)arg;
    for (long i = 0; i < cfg.items; i++) {
        if (cio_queue_full(&queue))
            waits++; /* the put below will wait for a consumer */
        int rc = cio_queue_put(&queue, (void *)(intptr_t)(p * cfg.items + i));
        if (rc)
            return ex_fail("put", rc);
        if (cio_queue_size(&queue) > max_depth)
            max_depth = cio_queue_size(&queue);
    }
    return 0;
}

static intptr_t consumer(void *arg)
{
    long *count = arg;
    void *item;
    int rc;
    while ((rc = cio_queue_get(&queue, &item)) == 0) {
        long id = (long)(intptr_t)item, p = id / cfg.items;
        /* One queue is FIFO: each producer's items come out in order. */
        if (id % cfg.items != next_from[p]++)
            out_of_order = true;
        seen[id]++;
        (*count)++;
        rc = cio_sleep(cfg.work); /* the work */
        cio_queue_task_done(&queue);
        if (rc)
            return ex_fail("work", rc);
    }
    return rc == CIO_EQUEUESHUTDOWN ? 0 : ex_fail("get", rc);
}

static int run_pipeline(cio_task **producers, intptr_t *results, long *consumed)
{
    cio_task_group consumers;
    cio_group_init(&consumers);
    int rc = 0;
    for (long c = 0; c < cfg.consumers && rc == 0; c++)
        rc = cio_group_spawn(&consumers, NULL, consumer, &consumed[c], NULL);
    long started = 0;
    for (; started < cfg.producers && rc == 0; started++)
        rc = cio_spawn(&producers[started], producer, (void *)(intptr_t)started, NULL);
    int status = rc ? ex_fail("spawn", rc) : 0;
    if (status)
        for (long p = 0; p < started; p++)
            cio_cancel(producers[p]);
    if (cio_gather(producers, (size_t)started, results) != 0)
        status = 1;
    for (long p = 0; p < started; p++)
        status |= results[p] != 0;
    if (status == 0 && (rc = cio_queue_join(&queue)) != 0)
        status = ex_fail("join", rc);
    cio_queue_shutdown(&queue, status != 0); /* on failure, drop what is left */
    if (cio_group_wait(&consumers) != 0)
        status = 1;
    return status;
}

static intptr_t pipeline(void *arg)
{
    (void)arg;
    long total = cfg.producers * cfg.items;
    int rc = cio_queue_init(&queue, CIO_QUEUE_FIFO, (size_t)cfg.queue_size, NULL);
    if (rc)
        return ex_fail("queue_init", rc);
    seen = calloc((size_t)total, 1);
    next_from = calloc((size_t)cfg.producers, sizeof(*next_from));
    long *consumed = calloc((size_t)cfg.consumers, sizeof(*consumed));
    cio_task **producers = calloc((size_t)cfg.producers, sizeof(*producers));
    intptr_t *results = calloc((size_t)cfg.producers, sizeof(*results));
    int status = 1;
    if (!seen || !next_from || !consumed || !producers || !results)
        ex_fail("calloc", -ENOMEM);
    else
        status = run_pipeline(producers, results, consumed);

    if (status == 0) {
        long once = 0;
        for (long i = 0; i < total; i++)
            once += seen[i] == 1;
        for (long c = 0; c < cfg.consumers; c++)
            printf("consumer %ld: %ld items\n", c + 1, consumed[c]);
        printf("%ld items produced, %ld consumed exactly once%s\n", total, once,
               out_of_order ? ", SOME OUT OF ORDER" : ", each producer's in order");
        printf("the queue never held more than %zu (maxsize %ld); producers waited for room "
               "%ld times\n",
               max_depth, cfg.queue_size, waits);
        if (once != total || out_of_order)
            status = 1;
    }
    free(seen);
    free(next_from);
    free(consumed);
    free(producers);
    free(results);
    cio_queue_destroy(&queue);
    return status;
}

int main(int argc, char **argv)
{
    const ex_opt opts[] = {
        {"--producers", "N", EX_COUNT, &cfg.producers, "producer tasks (default 2)"},
        {"--consumers", "N", EX_COUNT, &cfg.consumers, "consumer tasks (default 3)"},
        {"--items", "N", EX_COUNT, &cfg.items, "items per producer (default 10)"},
        {"--queue-size", "N", EX_COUNT, &cfg.queue_size, "the queue's maxsize (default 4)"},
        {"--work", "SECONDS", EX_SECONDS, &cfg.work, "time to process an item (default 0.01)"},
        {NULL, NULL, 0, NULL, NULL},
    };
    ex_parse_options(argc, argv,
                     "Producers put items into a bounded queue faster than consumers take\n"
                     "them out; the full queue makes the producers wait (backpressure).",
                     opts);
    if (cfg.producers > 1000 || cfg.consumers > 1000 || cfg.items > 1000000)
        ex_bad_usage("%s", "at most 1000 producers and consumers, 1000000 items each");
    return ex_run(pipeline);
}
