/* The stream writer against docs/contract.md, "Writing and closing" and the writer
 * rows of "Defaults": write never blocks, writev in one send, drain and
 * the water marks, write_eof and half-close, close (flushing, bounded by
 * the close timeout), abort, is_closing, wait_closed, the loss error on
 * a lost connection, drain's yield budget, and no SIGPIPE.
 *
 * To make every write queue, the tests fill the stream's socket first
 * (fd_fill on the stream's own fd): the kernel then takes nothing until
 * the peer reads. */
#include "stream_helpers.h"

TestSuite(write, .timeout = 30);
TestSuite(writev, .timeout = 30);
TestSuite(drain, .timeout = 30);
TestSuite(water_marks, .timeout = 30);
TestSuite(write_eof, .timeout = 30);
TestSuite(lost, .timeout = 30);

/* ---- write ---------------------------------------------------------------------- */

STREAM_TEST(write, never_blocks_10MiB_into_a_socket_nobody_reads)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char *data = pattern_new(10 * MiB, 1);
    int ran = 0;
    cio_task *t = t_spawn(t_set_flag, &ran);
    double t0 = cio_time();
    cr_assert_eq(cio_write(s, data, 10 * MiB), 0);
    cr_assert_eq(ran, 0, "write suspended the caller");
    cr_assert_lt(cio_time() - t0, 2.0);
    size_t q = cio_write_buffer_size(s);
    size_t in_kernel = (size_t)fd_pending(peer);
    cr_assert_gt(q, 0);
    cr_assert_eq(q + in_kernel, 10 * MiB, "queued %zu + sent %zu", q, in_kernel);
    /* With something queued, more writes only queue. */
    cr_assert_eq(cio_write(s, data, MiB), 0);
    cr_assert_eq(cio_write_buffer_size(s), q + MiB);
    cr_assert_eq(ran, 0);
    t_join(t);
    free(data);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(write, sends_at_once_when_nothing_is_queued)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    cr_assert_eq(cio_write(s, "hi", 2), 0);
    cr_assert_eq(cio_write_buffer_size(s), 0);
    cr_assert_eq(fd_pending(peer), 2, "the bytes were not sent by write itself");
    char buf[2];
    fd_read_exact(peer, buf, 2);
    cr_assert(memcmp(buf, "hi", 2) == 0);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(write, empty_data_is_a_noop)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    cr_assert_eq(cio_write(s, "", 0), 0);
    cr_assert_eq(cio_write(s, NULL, 0), 0);
    cr_assert_eq(cio_writev(s, NULL, 0), 0);
    struct iovec empty[2] = {{"", 0}, {NULL, 0}};
    cr_assert_eq(cio_writev(s, empty, 2), 0);
    cr_assert_eq(cio_write_buffer_size(s), 0);
    cr_assert_eq(fd_pending(peer), 0);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(write, copies_the_data_and_keeps_the_order_of_queued_writes)
{
    int peer;
    size_t filled;
    cio_stream *s = full_pair(&peer, &filled, NULL);
    enum { N = 300 * 1024 };
    char *want = pattern_new(N, 2);
    char *scratch = malloc(N);
    static const size_t sizes[] = {1, 100, 4095, 4096, 4097, 10, 20000, 3, 70000};
    size_t off = 0;
    for (int i = 0; off < N; i++) {
        size_t n = sizes[i % 9] < N - off ? sizes[i % 9] : N - off;
        memcpy(scratch, want + off, n);
        cr_assert_eq(cio_write(s, scratch, n), 0);
        memset(scratch, 0xEE, n); /* the stream must have copied */
        off += n;
    }
    cr_assert_eq(cio_write_buffer_size(s), N);
    cio_close(s);
    expect_peer_gets(peer, filled, want, N);
    EXPECT_ERR(cio_wait_closed(s), 0);
    free(want);
    free(scratch);
    cio_stream_release(s);
    close(peer);
    return 0;
}

/* ---- writev ------------------------------------------------------------------------ */

STREAM_TEST(writev, sends_the_buffers_in_one_call)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    struct iovec iov[3] = {{"ab", 2}, {"cde", 3}, {"f", 1}};
    cio__fault_arm(CIO_FAULT_WRITE, 1000000, EIO, false); /* count only */
    cr_assert_eq(cio_writev(s, iov, 3), 0);
    cr_assert_eq(cio__fault_calls(CIO_FAULT_WRITE), 1, "writev took %lu sends",
                 cio__fault_calls(CIO_FAULT_WRITE));
    cio__fault_reset();
    char buf[16];
    cr_assert_eq(read(peer, buf, sizeof(buf)), 6, "the peer got the buffers in pieces");
    cr_assert(memcmp(buf, "abcdef", 6) == 0);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(writev, many_buffers_arrive_in_order)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    enum { NIOV = 300 };
    char *want = pattern_new(NIOV * 300, 3);
    struct iovec iov[NIOV];
    size_t total = 0;
    for (int i = 0; i < NIOV; i++) {
        iov[i].iov_base = want + total;
        iov[i].iov_len = (size_t)(i * 37 % 300);
        total += iov[i].iov_len;
    }
    cr_assert_eq(cio_writev(s, iov, NIOV), 0);
    char *got = malloc(total);
    fd_read_exact(peer, got, total);
    cr_assert(memcmp(got, want, total) == 0);
    free(got);
    /* Once more behind a queue. */
    YIELD_UNTIL(cio_write_buffer_size(s) == 0);
    size_t filled = fd_fill(cio_stream_fd(s));
    cr_assert_eq(cio_writev(s, iov, NIOV), 0);
    cr_assert_eq(cio_write_buffer_size(s), total);
    cio_close(s);
    expect_peer_gets(peer, filled, want, total);
    free(want);
    cio_stream_release(s);
    close(peer);
    return 0;
}

/* More buffers than one sendmsg takes, on a socket with room for all of
 * them: the rest must go out too, without waiting for an event that a
 * socket with room never sends (the TCP peer here reads nothing until it
 * has the whole message, and reading would not wake a TCP sender). */
STREAM_TEST(writev, more_buffers_than_one_send_takes_all_go_out)
{
    int peer;
    cio_stream *s = tcp_raw_pair(&peer, NULL);
    enum { NIOV = 100 };
    char *want = pattern_new(NIOV * 10, 15);
    struct iovec iov[NIOV];
    for (int i = 0; i < NIOV; i++)
        iov[i] = (struct iovec){want + 10 * i, 10};
    poll_io(peer); /* the loop has seen the socket writable once already */
    cr_assert_eq(cio_writev(s, iov, NIOV), 0);
    EXPECT_ERR(cio_drain(s), 0);
    char got[NIOV * 10];
    size_t have = 0;
    double deadline = cio_time() + 2;
    while (have < sizeof(got) && cio_time() < deadline) {
        ssize_t n = read(peer, got + have, sizeof(got) - have);
        if (n > 0)
            have += (size_t)n;
        else
            cr_assert_eq(cio_yield(), 0);
    }
    cr_assert_eq(have, sizeof(got), "the peer got %zu of %zu bytes; %zu still queued", have,
                 sizeof(got), cio_write_buffer_size(s));
    cr_assert(memcmp(got, want, sizeof(got)) == 0);
    free(want);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(writev, flow_control_applies)
{
    int peer;
    size_t filled;
    cio_stream *s = full_pair(&peer, &filled, NULL);
    char *data = pattern_new(40000, 4);
    struct iovec iov[2] = {{data, 40000}, {data, 30000}};
    cr_assert_eq(cio_writev(s, iov, 2), 0);
    cr_assert_eq(cio_write_buffer_size(s), 70000);
    op d = {.s = s, .kind = OP_DRAIN};
    cio_task *t = op_spawn_blocked(&d);
    t_yield_n(3);
    cr_assert(!cio_task_done(t), "drain returned above the high water mark after writev");
    cio_abort(s);
    op_join(t);
    EXPECT_ERR(d.rc, -ECONNABORTED);
    free(data);
    cio_stream_release(s);
    close(peer);
    return 0;
}

/* ---- water marks --------------------------------------------------------------------- */

STREAM_TEST(water_marks, default_high_and_low_water_are_64KiB_and_16KiB)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    cr_assert_eq(CIO_DEFAULT_HIGH_WATER, 65536);
    cr_assert_eq(s->high_water, 65536);
    cr_assert_eq(s->low_water, 16384);
    stream_drop(s);
    close(peer);
    return 0;
}

/* Write `len` bytes to a full stream, check drain returns at once at
 * the high water mark and blocks one byte above it, then let the peer
 * read slowly and check drain returns only once the queue is at or below
 * low water, having waited while it was between the marks. */
static void check_marks(cio_stream *s, int peer, size_t filled, size_t high, size_t low)
{
    char *data = pattern_new(high + 1, 5);
    cr_assert_eq(cio_write(s, data, high), 0);
    cr_assert_eq(cio_write_buffer_size(s), high);
    int ran = 0;
    cio_task *r = t_spawn(t_set_flag, &ran);
    EXPECT_ERR(cio_drain(s), 0);
    cr_assert_eq(ran, 0, "drain at the high water mark did not return at once");
    t_join(r);

    cr_assert_eq(cio_write(s, data + high, 1), 0);
    op d = {.s = s, .kind = OP_DRAIN};
    cio_task *t = op_spawn_blocked(&d);
    bool waited_between = false;
    char buf[1024];
    size_t got = 0;
    while (!cio_task_done(t)) {
        cr_assert_lt(got, filled + high + 1, "drain never returned");
        ssize_t n = fd_read_some(peer, buf, sizeof(buf));
        cr_assert_gt(n, 0);
        got += (size_t)n;
        t_yield_n(3);
        size_t q = cio_write_buffer_size(s);
        if (!cio_task_done(t) && q > low && q < high)
            waited_between = true;
    }
    op_join(t);
    EXPECT_ERR(d.rc, 0);
    cr_assert_leq(d.write_size, low, "drain returned with %zu queued, low water %zu", d.write_size,
                  low);
    cr_assert(waited_between, "the flush never left the queue between the marks: inconclusive");
    free(data);
}

STREAM_TEST(water_marks, drain_blocks_above_high_water_until_low_water_defaults)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    /* A small socket buffer makes the loop flush in small steps. */
    fd_sndbuf(cio_stream_fd(s), 4096);
    size_t filled = fd_fill(cio_stream_fd(s));
    check_marks(s, peer, filled, 65536, 16384);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(water_marks, set_write_buffer_limits_sets_them)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    fd_sndbuf(cio_stream_fd(s), 4096);
    size_t filled = fd_fill(cio_stream_fd(s));
    cr_assert_eq(cio_set_write_buffer_limits(s, 30000, 10000), 0);
    check_marks(s, peer, filled, 30000, 10000);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(water_marks, low_above_high_is_EINVAL_and_zero_selects_the_defaults)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    cr_assert_eq(cio_set_write_buffer_limits(s, 1000, 100), 0);
    EXPECT_ERR(cio_set_write_buffer_limits(s, 10, 20), -EINVAL);
    cr_assert_eq(s->high_water, 1000, "a rejected call changed the marks");
    cr_assert_eq(s->low_water, 100);
    cr_assert_eq(cio_set_write_buffer_limits(s, 4000, 0), 0);
    cr_assert_eq(s->low_water, 1000, "low 0 is high / 4");
    cr_assert_eq(cio_set_write_buffer_limits(s, 0, 0), 0);
    cr_assert_eq(s->high_water, 65536);
    cr_assert_eq(s->low_water, 16384);
    stream_drop(s);
    close(peer);

    /* The same through the options. */
    int sv[2];
    unix_pair(sv);
    cio_stream_opts o = CIO_STREAM_OPTS_INIT;
    o.high_water = 100;
    o.low_water = 200;
    cio_stream *bad = NULL;
    EXPECT_ERR(cio_stream_from_fd(&bad, sv[0], &o), -EINVAL);
    close(sv[1]);
    o.high_water = 2000;
    o.low_water = 0;
    s = raw_pair(&peer, &o);
    cr_assert_eq(s->high_water, 2000);
    cr_assert_eq(s->low_water, 500);
    stream_drop(s);
    close(peer);
    return 0;
}

/* ---- drain ------------------------------------------------------------------------- */

static void drain_interrupted_keeps_the_queue(bool by_timeout)
{
    int peer;
    size_t filled;
    cio_stream *s = full_pair(&peer, &filled, NULL);
    char *data = pattern_new(100000, 6);
    cr_assert_eq(cio_write(s, data, 100000), 0);
    op d = {.s = s, .kind = OP_DRAIN, .timeout = by_timeout ? 0.05 : 0};
    cio_task *t = op_spawn_blocked(&d);
    if (!by_timeout)
        cr_assert(cio_cancel(t));
    op_join(t);
    EXPECT_ERR(d.rc, by_timeout ? -ETIMEDOUT : -ECANCELED);
    cr_assert_eq(drainer_count(s), 0, "the interrupted drainer is still queued");
    cr_assert_eq(cio_write_buffer_size(s), 100000, "the interruption touched the queue");
    cio_close(s);
    expect_peer_gets(peer, filled, data, 100000);
    EXPECT_ERR(cio_wait_closed(s), 0);
    free(data);
    cio_stream_release(s);
    close(peer);
}

STREAM_TEST(drain, cancelled_drain_keeps_the_queue)
{
    drain_interrupted_keeps_the_queue(false);
    return 0;
}

STREAM_TEST(drain, timed_out_drain_keeps_the_queue)
{
    drain_interrupted_keeps_the_queue(true);
    return 0;
}

struct yielder {
    long count;
    bool stop;
};

static intptr_t yielder_task(void *arg)
{
    struct yielder *y = arg;
    while (!y->stop) {
        y->count++;
        if (cio_yield())
            break;
    }
    return 0;
}

STREAM_TEST(drain, yields_after_a_budget_so_a_write_loop_cannot_starve_others)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    /* A socket that takes 3 MiB without the peer reading: drain never has
     * to wait, so only the budget can let the other task run. */
    fd_sndbuf(cio_stream_fd(s), 4 * MiB);
    struct yielder y = {0};
    cio_task *t = t_spawn(yielder_task, &y);
    static char chunk[4096];
    for (int i = 0; i < 3 * MiB / 4096; i++) {
        cr_assert_eq(cio_write(s, chunk, sizeof(chunk)), 0);
        cr_assert_eq(cio_write_buffer_size(s), 0, "the socket buffer is too small for this test");
        EXPECT_ERR(cio_drain(s), 0);
    }
    cr_assert_geq(y.count, 2, "the yielding task ran %ld times during 3 MiB of write+drain",
                  y.count);
    y.stop = true;
    t_join(t);
    stream_drop(s);
    close(peer);
    return 0;
}

struct sink {
    cio_stream *s;
    size_t want, got;
};

static intptr_t sink_task(void *arg)
{
    struct sink *k = arg;
    char *buf = malloc(65536);
    while (k->got < k->want) {
        ssize_t n = cio_read(k->s, buf, 65536);
        if (n <= 0)
            break;
        k->got += (size_t)n;
    }
    free(buf);
    return 0;
}

STREAM_TEST(drain, write_drain_loop_with_a_reading_peer_task_lets_a_yielding_task_run)
{
    cio_stream *a, *b;
    stream_pair(&a, &b, NULL);
    enum { TOTAL = 32 * MiB, PIECE = 64 * 1024 };
    struct sink k = {.s = b, .want = TOTAL};
    struct yielder y = {0};
    cio_task *tk = t_spawn(sink_task, &k);
    cio_task *ty = t_spawn(yielder_task, &y);
    char *piece = pattern_new(PIECE, 7);
    for (size_t off = 0; off < TOTAL; off += PIECE) {
        cr_assert_eq(cio_write(a, piece, PIECE), 0);
        EXPECT_ERR(cio_drain(a), 0);
    }
    t_join(tk);
    cr_assert_eq(k.got, TOTAL);
    cr_assert_gt(y.count, 10, "the yielding task ran only %ld times", y.count);
    y.stop = true;
    t_join(ty);
    free(piece);
    stream_drop(a);
    stream_drop(b);
    return 0;
}

/* ---- write_eof and half-close ---------------------------------------------------------------- */

STREAM_TEST(write_eof, write_after_write_eof_is_ESHUTDOWN)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    cr_assert_eq(cio_write_eof(s), 0);
    EXPECT_ERR(cio_write(s, "x", 1), -ESHUTDOWN);
    struct iovec iov = {"y", 1};
    EXPECT_ERR(cio_writev(s, &iov, 1), -ESHUTDOWN);
    char buf[4];
    EXPECT_ERR(fd_read_some(peer, buf, sizeof(buf)), 0);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(write_eof, twice_is_a_noop)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    cio__fault_arm(CIO_FAULT_SHUTDOWN, 1000000, EIO, false); /* count only */
    cr_assert_eq(cio_write(s, "a", 1), 0);
    cr_assert_eq(cio_write_eof(s), 0);
    cr_assert_eq(cio_write_eof(s), 0);
    cr_assert_eq(cio__fault_calls(CIO_FAULT_SHUTDOWN), 1);
    cio__fault_reset();
    cr_assert(!cio_is_closing(s));
    expect_peer_gets(peer, 0, "a", 1);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(write_eof, waits_for_the_queue_to_flush)
{
    int peer;
    size_t filled;
    cio_stream *s = full_pair(&peer, &filled, NULL);
    char *data = pattern_new(50000, 8);
    cr_assert_eq(cio_write(s, data, 50000), 0);
    cr_assert_eq(cio_write_eof(s), 0);
    cr_assert_eq(cio_write_eof(s), 0);
    cr_assert_eq(cio_write_buffer_size(s), 50000);
    expect_peer_gets(peer, filled, data, 50000);
    cr_assert_eq(cio_write_buffer_size(s), 0);
    free(data);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(write_eof, can_write_eof_is_true_for_unix_and_tcp_sockets)
{
    int peer, tpeer;
    cio_stream *s = raw_pair(&peer, NULL);
    cio_stream *t = tcp_raw_pair(&tpeer, NULL);
    cr_assert(cio_can_write_eof(s));
    cr_assert(cio_can_write_eof(t));
    stream_drop(s);
    stream_drop(t);
    close(peer);
    close(tpeer);
    return 0;
}

STREAM_TEST(write_eof, half_close_both_ways_over_a_socketpair)
{
    cio_stream *a, *b;
    stream_pair(&a, &b, NULL);
    char *all = NULL;
    size_t len = 0;
    cr_assert_eq(cio_write(a, "request", 7), 0);
    cr_assert_eq(cio_write_eof(a), 0);
    /* b sees the request and EOF, and is not closing: it can answer. */
    EXPECT_ERR(cio_read_all(b, &all, &len), 7);
    cr_assert(memcmp(all, "request", 7) == 0);
    free(all);
    cr_assert(cio_at_eof(b));
    cr_assert(!cio_is_closing(b), "peer EOF made the stream closing");
    cr_assert_eq(cio_write(b, "response", 8), 0);
    cio_close(b);
    /* a keeps reading after its own write_eof. */
    EXPECT_ERR(cio_read_all(a, &all, &len), 8);
    cr_assert(memcmp(all, "response", 8) == 0);
    free(all);
    EXPECT_ERR(cio_wait_closed(b), 0);
    cio_stream_release(b);
    cio_close(a);
    EXPECT_ERR(cio_wait_closed(a), 0);
    cio_stream_release(a);
    return 0;
}

STREAM_TEST(write_eof, half_close_over_tcp)
{
    int peer;
    cio_stream *s = tcp_raw_pair(&peer, NULL);
    char buf[64];
    cr_assert_eq(cio_write(s, "GET /\r\n", 7), 0);
    cr_assert_eq(cio_write_eof(s), 0);
    char *got = NULL;
    cr_assert_eq(fd_read_to_eof(peer, &got), 7);
    cr_assert(memcmp(got, "GET /\r\n", 7) == 0);
    free(got);
    fd_write_str(peer, "200 OK\n");
    shutdown(peer, SHUT_WR);
    EXPECT_BYTES(cio_readline(s, buf, sizeof(buf)), buf, "200 OK\n");
    EXPECT_ERR(cio_readline(s, buf, sizeof(buf)), 0);
    cr_assert(!cio_is_closing(s));
    close(peer);
    stream_drop(s);
    return 0;
}

/* ---- a lost connection ----------------------------------------------------------------- */

/* Queue more than the high water mark on a TCP stream whose peer does
 * not read. */
static cio_stream *tcp_backed_up(int *peer)
{
    cio_stream *s = tcp_raw_pair(peer, NULL);
    char *chunk = pattern_new(MiB, 13);
    for (int i = 0; i < 64 && cio_write_buffer_size(s) <= 65536; i++)
        cr_assert_eq(cio_write(s, chunk, MiB), 0);
    cr_assert_gt(cio_write_buffer_size(s), 65536);
    free(chunk);
    return s;
}

static bool is_loss_error(ssize_t rc)
{
    return rc == -ECONNRESET || rc == -EPIPE;
}

/* Two drainers parked on s (5 s timeouts) when the peer resets (reset) or
 * closes: both must get the same loss error.  The first one's op in *d1. */
static void two_drainers_lose(cio_stream *s, int peer, bool reset, op *d1)
{
    *d1 = (op){.s = s, .kind = OP_DRAIN, .timeout = 5};
    op d2 = {.s = s, .kind = OP_DRAIN, .timeout = 5};
    cio_task *t1 = op_spawn_blocked(d1);
    cio_task *t2 = op_spawn_blocked(&d2);
    if (reset)
        fd_rst_close(peer);
    else
        close(peer);
    op_join(t1);
    op_join(t2);
    cr_assert(is_loss_error(d1->rc), "drainer 1: %s", cio_err_name((int)d1->rc));
    cr_assert_eq(d2.rc, d1->rc, "drainer 2: %s", cio_err_name((int)d2.rc));
}

STREAM_TEST(lost, drain_reports_a_reset_to_every_drainer_promptly)
{
    int peer;
    cio_stream *s = tcp_backed_up(&peer);
    op d1;
    two_drainers_lose(s, peer, true, &d1);
    cr_assert_lt(d1.elapsed, 2.0);
    cr_assert(cio_is_closing(s), "a lost connection is closing");
    EXPECT_ERR(cio_wait_closed(s), d1.rc);
    EXPECT_ERR(cio_write(s, "x", 1), d1.rc);
    EXPECT_ERR(cio_drain(s), d1.rc);
    stream_drop(s);
    return 0;
}

STREAM_TEST(lost, drain_reports_a_unix_peer_close_to_every_drainer)
{
    int peer;
    size_t filled;
    cio_stream *s = full_pair(&peer, &filled, NULL);
    char *data = pattern_new(100000, 14);
    cr_assert_eq(cio_write(s, data, 100000), 0);
    op d1;
    two_drainers_lose(s, peer, false, &d1);
    EXPECT_ERR(cio_wait_closed(s), d1.rc);
    free(data);
    stream_drop(s);
    return 0;
}

STREAM_TEST(lost, write_on_a_lost_connection_returns_the_loss_error)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    close(peer);
    EXPECT_ERR(cio_write(s, "x", 1), -EPIPE);
    EXPECT_ERR(cio_write(s, "y", 1), -EPIPE);
    struct iovec iov = {"z", 1};
    EXPECT_ERR(cio_writev(s, &iov, 1), -EPIPE);
    EXPECT_ERR(cio_drain(s), -EPIPE);
    EXPECT_ERR(cio_wait_closed(s), -EPIPE);
    stream_drop(s);

    /* Over TCP, after a reset. */
    s = tcp_raw_pair(&peer, NULL);
    fd_rst_close(peer);
    int rc = cio_write(s, "x", 1);
    cr_assert(is_loss_error(rc), "write after a reset: %s", cio_err_name(rc));
    EXPECT_ERR(cio_write(s, "x", 1), rc);
    stream_drop(s);

    /* Lost as seen by a read: writes report it too. */
    s = tcp_raw_pair(&peer, NULL);
    fd_rst_close(peer);
    char buf[4];
    EXPECT_ERR(cio_read(s, buf, sizeof(buf)), -ECONNRESET);
    EXPECT_ERR(cio_write(s, "x", 1), -ECONNRESET);
    stream_drop(s);
    return 0;
}

STREAM_TEST(lost, wait_closed_returns_when_the_peer_resets_an_idle_connection)
{
    int peer;
    cio_stream *s = tcp_raw_pair(&peer, NULL);
    op w = {.s = s, .kind = OP_WAIT_CLOSED, .timeout = 2};
    cio_task *t = op_spawn_blocked(&w);
    fd_rst_close(peer);
    op_join(t);
    EXPECT_ERR(w.rc, -ECONNRESET);
    cr_assert(!w.expired);
    stream_drop(s);
    return 0;
}

STREAM_TEST(lost, no_SIGPIPE_writing_to_a_closed_peer)
{
    /* STREAM_TEST runs with SIGPIPE at its default action: a SIGPIPE
     * would kill the test. */
    int peer;
    size_t filled;
    cio_stream *s = full_pair(&peer, &filled, NULL);
    cr_assert_eq(cio_write(s, "queued", 6), 0);
    close(peer);
    /* The loop's flush hits the closed peer... */
    op d = {.s = s, .kind = OP_DRAIN, .timeout = 5};
    cr_assert_eq(cio_set_write_buffer_limits(s, 1, 0), 0);
    cio_task *t = op_spawn(&d);
    op_join(t);
    cr_assert(is_loss_error(d.rc), "drain: %s", cio_err_name((int)d.rc));
    stream_drop(s);
    /* ...and so does a direct write. */
    s = raw_pair(&peer, NULL);
    close(peer);
    for (int i = 0; i < 3; i++)
        EXPECT_ERR(cio_write(s, "x", 1), -EPIPE);
    stream_drop(s);
    return 0;
}
