/* Queue, LifoQueue, PriorityQueue: order, blocking with FIFO handoff,
 * cancellation and timeouts that never lose an item, task_done/join,
 * shutdown (3.13) and allocation failure. */
#include <criterion/criterion.h>

#include "cio.h"
#include "fault.h"
#include "sync_helpers.h"

#define NW 4
#define I2P(i) ((void *)(intptr_t)(i))
#define P2I(p) ((int)(intptr_t)(p))

static int get_op(worker *w)
{
    return cio_queue_get(w->obj, &w->item);
}

static int put_op(worker *w)
{
    return cio_queue_put(w->obj, w->item);
}

static int join_op(worker *w)
{
    return cio_queue_join(w->obj);
}

static worker qworker(int id, int (*op)(worker *), cio_queue *q, int *started, order_log *log)
{
    return (worker){.id = id, .started = started, .log = log, .op = op, .obj = q, .item = I2P(-1)};
}

static int expect_get(cio_queue *q)
{
    void *item = I2P(-1);
    int rc = cio_queue_get_nowait(q, &item);
    cr_assert_eq(rc, 0, "get_nowait: %s", cio_strerror(rc));
    return P2I(item);
}

/* ---- order ------------------------------------------------------------------- */

static intptr_t fifo_lifo_main(void *arg)
{
    (void)arg;
    cio_queue f, l;
    cr_assert_eq(cio_queue_init(&f, CIO_QUEUE_FIFO, 0, NULL), 0);
    cr_assert_eq(cio_queue_init(&l, CIO_QUEUE_LIFO, 0, NULL), 0);
    cr_assert(cio_queue_empty(&f) && !cio_queue_full(&f));
    cr_assert_eq(cio_queue_maxsize(&f), 0);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(cio_queue_put(&f, I2P(i)), 0);
        cr_assert_eq(cio_queue_put_nowait(&l, I2P(i)), 0);
    }
    cr_assert_eq(cio_queue_size(&f), 5);
    for (int i = 0; i < 5; i++) {
        void *item;
        cr_assert_eq(cio_queue_get(&f, &item), 0);
        cr_assert_eq(P2I(item), i);
        cr_assert_eq(expect_get(&l), 4 - i);
    }
    void *item = I2P(7);
    cr_assert_eq(cio_queue_get_nowait(&f, &item), CIO_EQUEUEEMPTY);
    cr_assert_eq(cio_queue_get_nowait(&l, NULL), CIO_EQUEUEEMPTY);
    cr_assert_eq(P2I(item), 7, "untouched on failure");
    cr_assert_eq(cio_queue_put(&f, NULL), 0);
    cr_assert_eq(cio_queue_get(&f, NULL), 0, "item may be NULL to discard");
    cr_assert(cio_queue_empty(&f));
    cio_queue_destroy(&f);
    cio_queue_destroy(&l);
    return 0;
}
MAIN_TEST(queue, fifo_and_lifo_order, fifo_lifo_main)

typedef struct prio_item {
    int prio, id;
} prio_item;

static int prio_cmp(const void *a, const void *b)
{
    const prio_item *x = a, *y = b;
    return (x->prio > y->prio) - (x->prio < y->prio);
}

static intptr_t priority_main(void *arg)
{
    (void)arg;
    cio_queue q;
    cr_assert_eq(cio_queue_init(&q, CIO_QUEUE_PRIORITY, 0, prio_cmp), 0);
    prio_item small[] = {{3, 0}, {1, 1}, {3, 2}, {1, 3}, {2, 4}, {1, 5}};
    for (int i = 0; i < 6; i++)
        cr_assert_eq(cio_queue_put(&q, &small[i]), 0);
    int want[] = {1, 3, 5, 4, 0, 2};
    for (int i = 0; i < 6; i++) {
        void *item;
        cr_assert_eq(cio_queue_get(&q, &item), 0);
        cr_assert_eq(((prio_item *)item)->id, want[i], "pos %d", i);
    }

    /* Many items, interleaved gets: priorities ascending, ties FIFO. */
    enum { N = 500 };
    static prio_item many[N];
    unsigned seed = 12345;
    int got = 0, last_prio = -1, last_id = -1;
    for (int i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        many[i] = (prio_item){(int)((seed >> 16) % 7) + 100, i};
        cr_assert_eq(cio_queue_put(&q, &many[i]), 0);
        if (i % 3 == 2) { /* drain one: only checks the heap stays valid */
            cr_assert_eq(cio_queue_get_nowait(&q, NULL), 0);
            got++;
        }
    }
    cr_assert_eq(cio_queue_size(&q), (size_t)(N - got));
    while (!cio_queue_empty(&q)) {
        void *item;
        cr_assert_eq(cio_queue_get_nowait(&q, &item), 0);
        prio_item *p = item;
        cr_assert_geq(p->prio, last_prio);
        if (p->prio == last_prio)
            cr_assert_gt(p->id, last_id, "ties come out in insertion order");
        last_prio = p->prio;
        last_id = p->id;
    }
    cio_queue_destroy(&q);
    return 0;
}
MAIN_TEST(queue, priority_order_with_ties, priority_main)

static intptr_t init_errors_main(void *arg)
{
    (void)arg;
    cio_queue q;
    cr_assert_eq(cio_queue_init(&q, CIO_QUEUE_PRIORITY, 0, NULL), -EINVAL);
    cr_assert_eq(cio_queue_init(&q, CIO_QUEUE_FIFO, 0, prio_cmp), -EINVAL);
    cr_assert_eq(cio_queue_init(&q, CIO_QUEUE_LIFO, 0, prio_cmp), -EINVAL);
    cr_assert_eq(cio_queue_init(&q, (enum cio_queue_kind)42, 0, NULL), -EINVAL);

    cr_assert_eq(cio_queue_init(&q, CIO_QUEUE_FIFO, 2, NULL), 0);
    cr_assert_eq(cio_queue_maxsize(&q), 2);
    cr_assert_eq(cio_queue_put_nowait(&q, I2P(1)), 0);
    cr_assert_eq(cio_queue_put_nowait(&q, I2P(2)), 0);
    cr_assert(cio_queue_full(&q));
    cr_assert_eq(cio_queue_put_nowait(&q, I2P(3)), CIO_EQUEUEFULL);
    cr_assert_eq(cio_queue_size(&q), 2);
    cr_assert_eq(expect_get(&q), 1);
    cr_assert_eq(expect_get(&q), 2);
    cr_assert_eq(cio_queue_task_done(&q), 0);
    cr_assert_eq(cio_queue_task_done(&q), 0);
    cr_assert_eq(cio_queue_task_done(&q), -EINVAL, "task_done called too often");
    cr_assert_eq(cio_queue_join(&q), 0, "nothing unfinished: returns at once");
    cio_queue_destroy(&q);
    return 0;
}
MAIN_TEST(queue, init_errors_full_empty_task_done, init_errors_main)

/* ---- blocking getters and putters ----------------------------------------------------- */

static intptr_t getters_fifo_main(void *arg)
{
    (void)arg;
    cio_queue q;
    cr_assert_eq(cio_queue_init(&q, CIO_QUEUE_LIFO, 0, NULL), 0);
    order_log log = {0};
    int started = 0;
    worker w[NW];
    cio_task *t[NW];
    for (int i = 0; i < NW; i++) {
        w[i] = qworker(i, get_op, &q, &started, &log);
        t[i] = spawn_worker(&w[i]);
    }
    yield_until(&started, NW);
    /* Each put goes straight to the longest-waiting getter, even LIFO. */
    for (int i = 0; i < NW; i++) {
        cr_assert_eq(cio_queue_put(&q, I2P(100 + i)), 0);
        cr_assert_eq(cio_queue_size(&q), 0, "handed over, not stored");
    }
    for (int i = 0; i < NW; i++) {
        join_worker(t[i]);
        cr_assert_eq(w[i].rc, 0);
        cr_assert_eq(P2I(w[i].item), 100 + i);
    }
    log_expect(&log, (int[]){0, 1, 2, 3}, NW);
    cio_queue_destroy(&q);
    return 0;
}
MAIN_TEST(queue, getters_served_fifo, getters_fifo_main)

static intptr_t putters_fifo_main(void *arg)
{
    (void)arg;
    cio_queue q;
    cr_assert_eq(cio_queue_init(&q, CIO_QUEUE_FIFO, 1, NULL), 0);
    cr_assert_eq(cio_queue_put(&q, I2P(0)), 0);
    order_log log = {0};
    int started = 0;
    worker w[NW];
    cio_task *t[NW];
    for (int i = 0; i < NW; i++) {
        w[i] = qworker(i, put_op, &q, &started, &log);
        w[i].item = I2P(i + 1);
        t[i] = spawn_worker(&w[i]);
    }
    yield_until(&started, NW);
    for (int i = 0; i <= NW; i++) {
        cr_assert_eq(expect_get(&q), i);
        /* The freed slot went to the next putter before it ran. */
        cr_assert_eq(cio_queue_size(&q), i < NW ? 1u : 0u);
        if (i < NW)
            cr_assert_eq(cio_queue_put_nowait(&q, I2P(99)), CIO_EQUEUEFULL);
    }
    for (int i = 0; i < NW; i++) {
        join_worker(t[i]);
        cr_assert_eq(w[i].rc, 0);
    }
    log_expect(&log, (int[]){0, 1, 2, 3}, NW);
    cio_queue_destroy(&q);
    return 0;
}
MAIN_TEST(queue, putters_served_fifo, putters_fifo_main)

static intptr_t getter_cancel_main(void *arg)
{
    bool same_step = *(bool *)arg;
    cio_queue q;
    cr_assert_eq(cio_queue_init(&q, CIO_QUEUE_FIFO, 0, NULL), 0);
    int started = 0;
    worker a = qworker(0, get_op, &q, &started, NULL), b = qworker(1, get_op, &q, &started, NULL);
    cio_task *ta = spawn_worker(&a), *tb = spawn_worker(&b);
    yield_until(&started, 2);
    /* Cancel A, then put: the item must reach B. */
    cancel_waiter(ta, same_step);
    cr_assert_eq(cio_queue_put(&q, I2P(42)), 0);
    join_worker(ta);
    join_worker(tb);
    cr_assert_eq(a.rc, -ECANCELED);
    cr_assert_eq(P2I(a.item), -1);
    cr_assert_eq(b.rc, 0);
    cr_assert_eq(P2I(b.item), 42);
    cr_assert(cio_queue_empty(&q));

    /* Handed an item, then cancelled: get returns it. */
    worker c = qworker(2, get_op, &q, &started, NULL);
    cio_task *tc = spawn_worker(&c);
    yield_until(&started, 3);
    cr_assert_eq(cio_queue_put(&q, I2P(43)), 0);
    cio_cancel(tc);
    join_worker(tc);
    cr_assert_eq(c.rc, 0);
    cr_assert_eq(P2I(c.item), 43);
    cr_assert_eq(c.rc_next, -ECANCELED);

    /* Timed out: nothing left behind, the next item stays in the queue. */
    worker d = qworker(3, get_op, &q, NULL, NULL);
    d.timeout = 0.01;
    join_worker(spawn_worker(&d));
    cr_assert_eq(d.rc, -ETIMEDOUT);
    cr_assert(d.expired);
    cr_assert_eq(cio_queue_put(&q, I2P(44)), 0);
    cr_assert_eq(cio_queue_size(&q), 1);
    cr_assert_eq(expect_get(&q), 44);
    cio_queue_destroy(&q);
    return 0;
}
MAIN_TEST_ARG(queue, cancelled_or_timed_out_getter_loses_nothing, getter_cancel_main, bool, false)
SAME_STEP_TEST(queue, cancelled_getter_same_step, getter_cancel_main)

static intptr_t putter_cancel_main(void *arg)
{
    bool same_step = *(bool *)arg;
    cio_queue q;
    cr_assert_eq(cio_queue_init(&q, CIO_QUEUE_FIFO, 1, NULL), 0);
    cr_assert_eq(cio_queue_put(&q, I2P(10)), 0);
    int started = 0;
    worker a = qworker(0, put_op, &q, &started, NULL), b = qworker(1, put_op, &q, &started, NULL);
    a.item = I2P(11);
    b.item = I2P(12);
    cio_task *ta = spawn_worker(&a), *tb = spawn_worker(&b);
    yield_until(&started, 2);
    /* Cancel A, then free a slot: it goes to B. */
    cancel_waiter(ta, same_step);
    cr_assert_eq(expect_get(&q), 10);
    join_worker(ta);
    join_worker(tb);
    cr_assert_eq(a.rc, -ECANCELED);
    cr_assert_eq(b.rc, 0);
    cr_assert_eq(cio_queue_size(&q), 1);
    cr_assert_eq(expect_get(&q), 12, "A's item was never added");

    /* Slot handed over, then cancelled: put succeeded, item is queued. */
    cr_assert_eq(cio_queue_put(&q, I2P(20)), 0);
    worker c = qworker(2, put_op, &q, &started, NULL);
    c.item = I2P(21);
    cio_task *tc = spawn_worker(&c);
    yield_until(&started, 3);
    cr_assert_eq(expect_get(&q), 20);
    cio_cancel(tc);
    join_worker(tc);
    cr_assert_eq(c.rc, 0);
    cr_assert_eq(c.rc_next, -ECANCELED);
    cr_assert_eq(expect_get(&q), 21);

    /* Timed out: the queue is unchanged and no stale putter is served. */
    cr_assert_eq(cio_queue_put(&q, I2P(30)), 0);
    worker d = qworker(3, put_op, &q, NULL, NULL);
    d.item = I2P(31);
    d.timeout = 0.01;
    join_worker(spawn_worker(&d));
    cr_assert_eq(d.rc, -ETIMEDOUT);
    cr_assert(d.expired);
    cr_assert_eq(expect_get(&q), 30);
    cr_assert(cio_queue_empty(&q));
    cr_assert_eq(cio_queue_put_nowait(&q, I2P(32)), 0, "room again, no queued putters");
    cio_queue_destroy(&q);
    return 0;
}
MAIN_TEST_ARG(queue, cancelled_or_timed_out_putter_adds_nothing, putter_cancel_main, bool, false)
SAME_STEP_TEST(queue, cancelled_putter_same_step, putter_cancel_main)

/* A slot freed while the only putter is cancelled but not yet gone: a new
 * putter queues behind it and must be served when it leaves. */
static intptr_t putter_newcomer_main(void *arg)
{
    (void)arg;
    cio_queue q;
    cr_assert_eq(cio_queue_init(&q, CIO_QUEUE_FIFO, 1, NULL), 0);
    cr_assert_eq(cio_queue_put(&q, I2P(1)), 0);
    int started = 0;
    worker a = qworker(0, put_op, &q, &started, NULL);
    a.item = I2P(2);
    cio_task *ta = spawn_worker(&a);
    yield_until(&started, 1);
    cio_cancel(ta);
    cr_assert_eq(expect_get(&q), 1);
    cr_assert_eq(cio_queue_put(&q, I2P(3)), 0);
    join_worker(ta);
    cr_assert_eq(a.rc, -ECANCELED);
    cr_assert_eq(expect_get(&q), 3);
    cr_assert(cio_queue_empty(&q));
    cio_queue_destroy(&q);
    return 0;
}
SAME_STEP_TEST(queue, newcomer_behind_cancelled_putter_same_step, putter_newcomer_main)

/* ---- task_done / join ------------------------------------------------------------- */

static intptr_t join_main(void *arg)
{
    (void)arg;
    cio_queue q;
    cr_assert_eq(cio_queue_init(&q, CIO_QUEUE_FIFO, 0, NULL), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(cio_queue_put(&q, I2P(i)), 0);
    int started = 0;
    worker j[2];
    cio_task *tj[2];
    for (int i = 0; i < 2; i++) {
        j[i] = qworker(i, join_op, &q, &started, NULL);
        tj[i] = spawn_worker(&j[i]);
    }
    yield_until(&started, 2);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(expect_get(&q), i);
        yield_n(2);
        cr_assert(!cio_task_done(tj[0]) && !cio_task_done(tj[1]), "item %d not done yet", i);
        cr_assert_eq(cio_queue_task_done(&q), 0);
    }
    for (int i = 0; i < 2; i++) {
        join_worker(tj[i]);
        cr_assert_eq(j[i].rc, 0);
    }
    cr_assert_eq(cio_queue_task_done(&q), -EINVAL);

    /* A timed-out join leaves no trace. */
    cr_assert_eq(cio_queue_put(&q, I2P(9)), 0);
    worker t = qworker(9, join_op, &q, NULL, NULL);
    t.timeout = 0.01;
    join_worker(spawn_worker(&t));
    cr_assert_eq(t.rc, -ETIMEDOUT);
    cr_assert_eq(expect_get(&q), 9);
    cr_assert_eq(cio_queue_task_done(&q), 0);
    cio_queue_destroy(&q);
    return 0;
}
MAIN_TEST(queue, join_waits_for_task_done, join_main)

/* ---- shutdown ------------------------------------------------------------------------ */

static intptr_t shutdown_main(void *arg)
{
    bool immediate = *(bool *)arg;
    cio_queue empty, full;
    cr_assert_eq(cio_queue_init(&empty, CIO_QUEUE_FIFO, 0, NULL), 0);
    cr_assert_eq(cio_queue_init(&full, CIO_QUEUE_FIFO, 2, NULL), 0);
    cr_assert_eq(cio_queue_put(&full, I2P(1)), 0);
    cr_assert_eq(cio_queue_put(&full, I2P(2)), 0);
    cr_assert_eq(expect_get(&full), 1); /* taken, not yet task_done */
    cr_assert_eq(cio_queue_put(&full, I2P(3)), 0);

    int started = 0;
    worker g[2], p[2], jn;
    cio_task *tg[2], *tp[2], *tj;
    for (int i = 0; i < 2; i++) {
        g[i] = qworker(i, get_op, &empty, &started, NULL);
        p[i] = qworker(i, put_op, &full, &started, NULL);
        p[i].item = I2P(10 + i);
        tg[i] = spawn_worker(&g[i]);
        tp[i] = spawn_worker(&p[i]);
    }
    jn = qworker(0, join_op, &full, &started, NULL);
    tj = spawn_worker(&jn);
    yield_until(&started, 5);

    cio_queue_shutdown(&empty, immediate);
    cio_queue_shutdown(&full, immediate);
    for (int i = 0; i < 2; i++) {
        join_worker(tg[i]);
        join_worker(tp[i]);
        cr_assert_eq(g[i].rc, CIO_EQUEUESHUTDOWN);
        cr_assert_eq(p[i].rc, CIO_EQUEUESHUTDOWN);
    }
    cr_assert_eq(cio_queue_put(&empty, I2P(5)), CIO_EQUEUESHUTDOWN);
    cr_assert_eq(cio_queue_put_nowait(&empty, I2P(5)), CIO_EQUEUESHUTDOWN);
    cr_assert_eq(cio_queue_get(&empty, NULL), CIO_EQUEUESHUTDOWN);
    cr_assert_eq(cio_queue_get_nowait(&empty, NULL), CIO_EQUEUESHUTDOWN);

    if (immediate) {
        /* Items 2 and 3 were discarded and count as done; item 1 is
         * still being processed, so the joiner keeps waiting for it. */
        cr_assert(cio_queue_empty(&full));
        cr_assert_eq(cio_queue_get(&full, NULL), CIO_EQUEUESHUTDOWN);
    } else {
        cr_assert_eq(cio_queue_size(&full), 2, "putters' items were not added");
        cr_assert_eq(expect_get(&full), 2);
        cr_assert_eq(cio_queue_get(&full, NULL), 0);
        cr_assert_eq(cio_queue_get(&full, NULL), CIO_EQUEUESHUTDOWN);
        cr_assert_eq(cio_queue_task_done(&full), 0);
        cr_assert_eq(cio_queue_task_done(&full), 0);
    }
    yield_n(3);
    cr_assert(!cio_task_done(tj));
    cr_assert_eq(cio_queue_task_done(&full), 0); /* item 1 */
    join_worker(tj);
    cr_assert_eq(jn.rc, 0);
    cr_assert_eq(cio_queue_task_done(&full), -EINVAL);
    cio_queue_destroy(&empty);
    cio_queue_destroy(&full);
    return 0;
}
MAIN_TEST_ARG(queue, shutdown_graceful, shutdown_main, bool, false)
MAIN_TEST_ARG(queue, shutdown_immediate, shutdown_main, bool, true)

static intptr_t shutdown_immediate_join_main(void *arg)
{
    (void)arg;
    cio_queue q;
    cr_assert_eq(cio_queue_init(&q, CIO_QUEUE_LIFO, 0, NULL), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(cio_queue_put(&q, I2P(i)), 0);
    worker j = qworker(0, join_op, &q, NULL, NULL);
    cio_task *tj = spawn_worker(&j);
    yield_n(2);
    cio_queue_shutdown(&q, true);
    join_worker(tj); /* every item discarded: unfinished dropped to 0 */
    cr_assert_eq(j.rc, 0);
    cr_assert_eq(cio_queue_task_done(&q), -EINVAL);
    cr_assert_eq(cio_queue_join(&q), 0);
    cio_queue_destroy(&q);
    return 0;
}
MAIN_TEST(queue, shutdown_immediate_releases_joiners, shutdown_immediate_join_main)

/* ---- growth and allocation failure ------------------------------------------------- */

/* Fill q until its storage is full, with the FIFO ring wrapped, then fail
 * the growth (at allocation number nth) and check nothing changed. */
static intptr_t enomem_main(void *arg)
{
    enum cio_queue_kind kind = *(enum cio_queue_kind *)arg;
    cio_queue q;
    cr_assert_eq(cio_queue_init(&q, kind, 0, kind == CIO_QUEUE_PRIORITY ? prio_cmp : NULL), 0);
    static prio_item items[64];
    for (int i = 0; i < 64; i++)
        items[i] = (prio_item){0, i}; /* all tied: priority order = FIFO */

    cio__fault_arm(CIO_FAULT_ALLOC, 1, ENOMEM, false);
    cr_assert_eq(cio_queue_put(&q, &items[0]), -ENOMEM, "first allocation fails");
    cio__fault_reset();
    cr_assert(cio_queue_empty(&q));
    cr_assert_eq(cio_queue_task_done(&q), -EINVAL, "the failed put is not counted");

    int next = 0, first = 0;
    cr_assert_eq(cio_queue_put(&q, &items[next++]), 0);
    while (cio_queue_size(&q) < q.cap) /* private, but tells when growth is due */
        cr_assert_eq(cio_queue_put(&q, &items[next++]), 0);
    if (kind != CIO_QUEUE_LIFO) { /* wrap the ring: take 3, add 3 */
        for (int i = 0; i < 3; i++, first++) {
            void *item;
            cr_assert_eq(cio_queue_get_nowait(&q, &item), 0);
            cr_assert_eq(((prio_item *)item)->id, first);
        }
        for (int i = 0; i < 3; i++)
            cr_assert_eq(cio_queue_put(&q, &items[next++]), 0);
    }
    size_t n = cio_queue_size(&q);
    cr_assert_eq(n, q.cap);
    unsigned long nths = kind == CIO_QUEUE_PRIORITY ? 2 : 1;
    for (unsigned long nth = 1; nth <= nths; nth++) {
        cio__fault_arm(CIO_FAULT_ALLOC, nth, ENOMEM, false);
        cr_assert_eq(cio_queue_put_nowait(&q, &items[next]), -ENOMEM, "nth %lu", nth);
        cio__fault_reset();
        cr_assert_eq(cio_queue_size(&q), n);
    }
    cr_assert_eq(cio_queue_put(&q, &items[next++]), 0, "usable after the failure");
    for (int i = 0; i < 3; i++)
        cr_assert_eq(cio_queue_put(&q, &items[next++]), 0);

    int count = 0;
    while (!cio_queue_empty(&q)) {
        void *item;
        cr_assert_eq(cio_queue_get_nowait(&q, &item), 0);
        int id = ((prio_item *)item)->id;
        if (kind == CIO_QUEUE_LIFO)
            cr_assert_eq(id, next - 1 - count);
        else
            cr_assert_eq(id, first + count);
        count++;
    }
    cr_assert_eq(count, next - first);
    cio_queue_destroy(&q);
    return 0;
}
MAIN_TEST_ARG(queue, enomem_fifo, enomem_main, enum cio_queue_kind, CIO_QUEUE_FIFO)
MAIN_TEST_ARG(queue, enomem_lifo, enomem_main, enum cio_queue_kind, CIO_QUEUE_LIFO)
MAIN_TEST_ARG(queue, enomem_priority, enomem_main, enum cio_queue_kind, CIO_QUEUE_PRIORITY)

/* Interleaved puts and gets across many growths keep FIFO order; a bounded
 * queue grows only up to maxsize. */
static intptr_t growth_main(void *arg)
{
    (void)arg;
    cio_queue q, b;
    cr_assert_eq(cio_queue_init(&q, CIO_QUEUE_FIFO, 0, NULL), 0);
    int in = 0, out = 0;
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 7; i++)
            cr_assert_eq(cio_queue_put(&q, I2P(in++)), 0);
        for (int i = 0; i < 5; i++)
            cr_assert_eq(expect_get(&q), out++);
    }
    while (!cio_queue_empty(&q))
        cr_assert_eq(expect_get(&q), out++);
    cr_assert_eq(out, in);
    cio_queue_destroy(&q);

    cr_assert_eq(cio_queue_init(&b, CIO_QUEUE_FIFO, 10, NULL), 0);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(cio_queue_put_nowait(&b, I2P(i)), 0);
    cr_assert(cio_queue_full(&b));
    cr_assert_eq(b.cap, 10u, "storage capped at maxsize");
    cr_assert_eq(cio_queue_put_nowait(&b, I2P(10)), CIO_EQUEUEFULL);
    cio_queue_destroy(&b);
    return 0;
}
MAIN_TEST(queue, growth_keeps_order, growth_main)
