/* Streams under injected faults (src/fault.h): short writes and reads,
 * EAGAIN storms, EINTR, ECONNRESET on the Nth send or on a read, and
 * allocation failures while growing the read buffer or queuing a write.
 * In every case: a clean error or full recovery, nothing lost, nothing
 * duplicated, no crash, no leak. */
#include "stream_helpers.h"

TestSuite(short_io, .timeout = 60);
TestSuite(eagain, .timeout = 30);
TestSuite(eintr, .timeout = 30);
TestSuite(reset_fault, .timeout = 30);
TestSuite(oom, .timeout = 30);

/* Reads exactly len bytes from s into a buffer of its own. */
struct slurp {
    cio_stream *s;
    size_t len;
    char *buf;
    ssize_t rc;
};

static intptr_t slurp_task(void *arg)
{
    struct slurp *k = arg;
    k->buf = malloc(k->len);
    k->rc = cio_readexactly(k->s, k->buf, k->len, NULL);
    return 0;
}

/* ---- short transfers ------------------------------------------------------------- */

STREAM_TEST(short_io, short_writes_deliver_100KiB_intact_and_in_order)
{
    cio_stream *a, *b;
    stream_pair(&a, &b, NULL);
    enum { N = 100 * 1024 };
    char *data = pattern_new(N, 1);
    struct slurp k = {.s = b, .len = N};
    cio_task *t = t_spawn(slurp_task, &k);
    cio__fault_arm(CIO_FAULT_WRITE, 1, 0, true); /* every send moves at most 1 byte */
    cr_assert_eq(cio_write(a, data, N), 0);
    cr_assert_eq(cio_write_buffer_size(a), N - 1, "the first send was not short");
    EXPECT_ERR(cio_drain(a), 0);
    t_join(t);
    unsigned long sends = cio__fault_calls(CIO_FAULT_WRITE);
    cio__fault_reset();
    EXPECT_ERR(k.rc, N);
    cr_assert(memcmp(k.buf, data, N) == 0, "bytes lost, duplicated or reordered");
    cr_assert_geq(sends, N, "only %lu sends for %d bytes", sends, N);
    cr_assert_eq(cio_write_buffer_size(a), 0);
    free(k.buf);
    free(data);
    stream_drop(a);
    stream_drop(b);
    return 0;
}

STREAM_TEST(short_io, short_writes_of_a_writev_keep_the_order)
{
    cio_stream *a, *b;
    stream_pair(&a, &b, NULL);
    enum { NIOV = 80 };
    char *data = pattern_new(NIOV * 13, 2);
    struct iovec iov[NIOV];
    for (int i = 0; i < NIOV; i++)
        iov[i] = (struct iovec){data + 13 * i, 13};
    struct slurp k = {.s = b, .len = NIOV * 13};
    cio_task *t = t_spawn(slurp_task, &k);
    cio__fault_arm(CIO_FAULT_WRITE, 1, 0, true);
    cr_assert_eq(cio_writev(a, iov, NIOV), 0);
    cr_assert_eq(cio_writev(a, iov, 3), 0);
    t_join(t);
    cio__fault_reset();
    EXPECT_ERR(k.rc, NIOV * 13);
    cr_assert(memcmp(k.buf, data, NIOV * 13) == 0);
    char tail[39];
    cr_assert_eq(cio_readexactly(b, tail, 39, NULL), 39);
    cr_assert(memcmp(tail, data, 39) == 0);
    free(k.buf);
    free(data);
    stream_drop(a);
    stream_drop(b);
    return 0;
}

STREAM_TEST(short_io, short_reads_deliver_everything_in_order)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[64];
    enum { N = 5000 };
    char *data = pattern_new(N, 3);
    fd_write_str(peer, "hello\nworld|rest");
    fd_write_all(peer, data, N);
    shutdown(peer, SHUT_WR);
    /* Let the loop's own start-up reads happen before faults are armed. */
    poll_io(peer);
    cio__fault_arm(CIO_FAULT_READ, 1, 0, true); /* every recv moves at most 1 byte */
    EXPECT_BYTES(cio_readline(s, buf, sizeof(buf)), buf, "hello\n");
    EXPECT_BYTES(cio_readuntil(s, "|", 1, buf, sizeof(buf)), buf, "world|");
    EXPECT_BYTES(cio_readexactly(s, buf, 4, NULL), buf, "rest");
    char *got = malloc(N);
    cr_assert_eq(cio_readexactly(s, got, N, NULL), N);
    cr_assert(memcmp(got, data, N) == 0);
    EXPECT_ERR(cio_read(s, buf, sizeof(buf)), 0);
    cio__fault_reset();
    free(got);
    free(data);
    stream_drop(s);
    close(peer);
    return 0;
}

/* ---- EAGAIN storms ------------------------------------------------------------------ */

STREAM_TEST(eagain, write_storm_waits_and_recovers)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    enum { HALF = 32 * 1024, N = 2 * HALF };
    char *data = pattern_new(N, 4);
    char *got = malloc(N);
    /* The first half in 4 KiB sends, so that each 4 KiB the peer reads
     * frees send space and makes the socket writable again. */
    for (size_t off = 0; off < HALF; off += 4096)
        cr_assert_eq(cio_write(s, data + off, 4096), 0);
    cr_assert_eq(cio_write_buffer_size(s), 0);
    cr_assert_eq(cio_set_write_buffer_limits(s, 1024, 256), 0);

    cio__fault_arm(CIO_FAULT_WRITE, 1, EAGAIN, true);
    cr_assert_eq(cio_write(s, data + HALF, HALF), 0);
    cr_assert_eq(cio_write_buffer_size(s), HALF, "EAGAIN: all of it queued");
    op d = {.s = s, .kind = OP_DRAIN};
    cio_task *t = op_spawn_blocked(&d);
    /* The peer reads part of the first half: the socket turns writable,
     * the loop retries and gets EAGAIN again, and again. */
    size_t have = 0;
    while (have < HALF / 2 && cio__fault_calls(CIO_FAULT_WRITE) < 4) {
        fd_read_exact(peer, got + have, 4096);
        have += 4096;
        poll_io(peer);
    }
    unsigned long tries = cio__fault_calls(CIO_FAULT_WRITE);
    cr_assert_geq(tries, 2, "the storm was never retried (%lu sends)", tries);
    cr_assert_eq(cio_write_buffer_size(s), HALF, "bytes left the queue during the storm");
    cr_assert(!cio_task_done(t), "drain returned during the storm");
    cio__fault_reset();
    /* The storm is over: what the peer reads now lets the queue go. */
    fd_read_exact(peer, got + have, N - have);
    op_join(t);
    EXPECT_ERR(d.rc, 0);
    cr_assert(memcmp(got, data, N) == 0, "bytes lost, duplicated or reordered");
    cr_assert_eq(cio_write_buffer_size(s), 0);
    t_yield_n(2);
    cr_assert_eq(fd_pending(peer), 0, "bytes duplicated");
    free(got);
    free(data);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(eagain, on_the_first_read_attempt_the_reader_waits_and_recovers)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    enum { N = 8192 };
    char *data = pattern_new(N, 5);
    op o = {.s = s, .kind = OP_READEXACTLY, .n = N, .timeout = 5};
    cio_task *t = op_spawn_blocked(&o);
    /* Let the loop's own start-up reads happen before faults are armed. */
    poll_io(peer);
    cio__fault_arm(CIO_FAULT_READ, 1, EAGAIN, false);
    fd_write_all(peer, data, N / 2);
    YIELD_UNTIL(cio__fault_calls(CIO_FAULT_READ) >= 1 && s->reader == t);
    /* More data is still to come: its arrival wakes the reader again. */
    fd_write_all(peer, data + N / 2, N / 2);
    op_join(t);
    cio__fault_reset();
    EXPECT_ERR(o.rc, N);
    cr_assert(memcmp(o.buf, data, N) == 0);
    free(data);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(eagain, read_storm_waits_and_recovers)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    enum { PIECE = 2000, N = 3 * PIECE };
    char *data = pattern_new(N, 6);
    /* Let the loop's own start-up reads happen before faults are armed. */
    poll_io(peer);
    cio__fault_arm(CIO_FAULT_READ, 1, EAGAIN, true);
    op o = {.s = s, .kind = OP_READEXACTLY, .n = N, .timeout = 5};
    cio_task *t = op_spawn_blocked(&o);
    /* Each arrival makes the reader try again, and fail again. */
    unsigned long calls = cio__fault_calls(CIO_FAULT_READ);
    fd_write_all(peer, data, PIECE);
    YIELD_UNTIL(cio__fault_calls(CIO_FAULT_READ) > calls && s->reader == t);
    calls = cio__fault_calls(CIO_FAULT_READ);
    fd_write_all(peer, data + PIECE, PIECE);
    YIELD_UNTIL(cio__fault_calls(CIO_FAULT_READ) > calls && s->reader == t);
    cr_assert_eq(cio_stream_buffered(s), 0, "bytes read during the storm");
    cio__fault_reset();
    fd_write_all(peer, data + 2 * PIECE, PIECE);
    op_join(t);
    EXPECT_ERR(o.rc, N);
    cr_assert(memcmp(o.buf, data, N) == 0);
    char extra[8];
    shutdown(peer, SHUT_WR);
    EXPECT_ERR(cio_read(s, extra, sizeof(extra)), 0);
    free(data);
    stream_drop(s);
    close(peer);
    return 0;
}

/* ---- EINTR --------------------------------------------------------------------------- */

STREAM_TEST(eintr, interrupted_send_and_recv_are_retried)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[16];
    cio__fault_arm(CIO_FAULT_WRITE, 1, EINTR, false);
    cr_assert_eq(cio_write(s, "once", 4), 0);
    cr_assert_eq(cio_write_buffer_size(s), 0);
    cr_assert_eq(read(peer, buf, sizeof(buf)), 4);
    cr_assert(memcmp(buf, "once", 4) == 0);
    /* Let the loop's own start-up reads happen before faults are armed. */
    poll_io(peer);
    cio__fault_arm(CIO_FAULT_READ, 1, EINTR, false);
    fd_write_str(peer, "back");
    EXPECT_BYTES(cio_read(s, buf, sizeof(buf)), buf, "back");
    cio__fault_reset();
    stream_drop(s);
    close(peer);
    return 0;
}

/* ---- ECONNRESET ------------------------------------------------------------------------ */

STREAM_TEST(reset_fault, on_the_nth_send_write_returns_it_and_the_stream_is_failed)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[16];
    fd_write_str(peer, "reply");
    cio__fault_arm(CIO_FAULT_WRITE, 3, ECONNRESET, false);
    cr_assert_eq(cio_write(s, "one", 3), 0);
    cr_assert_eq(cio_write(s, "two", 3), 0);
    EXPECT_ERR(cio_write(s, "three", 5), -ECONNRESET);
    cio__fault_reset();
    EXPECT_ERR(cio_write(s, "four", 4), -ECONNRESET);
    EXPECT_ERR(cio_drain(s), -ECONNRESET);
    cr_assert(cio_is_closing(s));
    EXPECT_ERR(cio_wait_closed(s), -ECONNRESET);
    /* What was received before is still readable, then the error. */
    EXPECT_BYTES(cio_read(s, buf, sizeof(buf)), buf, "reply");
    EXPECT_ERR(cio_read(s, buf, sizeof(buf)), -ECONNRESET);
    /* The peer got the first two writes, then the end. */
    char *got = NULL;
    cr_assert_eq(fd_read_to_eof(peer, &got), 6);
    cr_assert(memcmp(got, "onetwo", 6) == 0);
    free(got);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(reset_fault, in_the_loop_flush_every_drainer_gets_ECONNRESET)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    size_t filled = fd_fill(cio_stream_fd(s));
    char *data = pattern_new(100000, 7);
    cr_assert_eq(cio_write(s, data, 100000), 0);
    op d1 = {.s = s, .kind = OP_DRAIN, .timeout = 5}, d2 = {.s = s, .kind = OP_DRAIN, .timeout = 5};
    op w = {.s = s, .kind = OP_WAIT_CLOSED, .timeout = 5};
    cio_task *t1 = op_spawn_blocked(&d1);
    cio_task *t2 = op_spawn_blocked(&d2);
    cio_task *tw = op_spawn_blocked(&w);
    cio__fault_arm(CIO_FAULT_WRITE, 1, ECONNRESET, false);
    /* The peer reads: the socket turns writable, the flush fails. */
    fd_discard(peer, filled);
    op_join(t1);
    op_join(t2);
    op_join(tw);
    cio__fault_reset();
    EXPECT_ERR(d1.rc, -ECONNRESET);
    EXPECT_ERR(d2.rc, -ECONNRESET);
    EXPECT_ERR(w.rc, -ECONNRESET);
    cr_assert_eq(cio_write_buffer_size(s), 0);
    EXPECT_ERR(cio_write(s, "x", 1), -ECONNRESET);
    EXPECT_ERR(cio_stream_fd(s), -EBADF);
    char buf[64];
    EXPECT_ERR(fd_read_some(peer, buf, sizeof(buf)), 0);
    free(data);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(reset_fault, on_a_read_buffered_bytes_then_the_error)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[16];
    fd_write_str(peer, "abc");
    EXPECT_BYTES(cio_read(s, buf, 1), buf, "a");
    /* Let the loop's own start-up reads happen before faults are armed. */
    poll_io(peer);
    cio__fault_arm(CIO_FAULT_READ, 1, ECONNRESET, false);
    /* More data arrives; the recv it prompts fails. */
    fd_write_str(peer, "d");
    EXPECT_ERR(cio_readline(s, buf, sizeof(buf)), -ECONNRESET);
    cio__fault_reset();
    EXPECT_BYTES(cio_read(s, buf, sizeof(buf)), buf, "bc");
    EXPECT_ERR(cio_read(s, buf, sizeof(buf)), -ECONNRESET);
    EXPECT_ERR(cio_write(s, "x", 1), -ECONNRESET);
    EXPECT_ERR(cio_wait_closed(s), -ECONNRESET);
    stream_drop(s);
    close(peer);
    return 0;
}

/* ---- allocation failures ------------------------------------------------------------------ */

STREAM_TEST(oom, growing_the_read_buffer_for_readexactly_is_ENOMEM_and_loses_nothing)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    enum { N = 20003 };
    char *data = pattern_new(N, 8);
    char *buf = malloc(N);
    fd_write_all(peer, data, N);
    cr_assert_eq(cio_read(s, buf, 3), 3);
    size_t buffered = cio_stream_buffered(s);
    cr_assert_gt(buffered, 0);
    cio__fault_arm(CIO_FAULT_ALLOC, 1, ENOMEM, false);
    EXPECT_ERR(cio_readexactly(s, buf, N - 3, NULL), -ENOMEM);
    cr_assert_eq(cio__fault_calls(CIO_FAULT_ALLOC), 1, "the failure was not the buffer growth");
    cio__fault_reset();
    cr_assert_eq(cio_stream_buffered(s), buffered, "the failed call consumed bytes");
    EXPECT_ERR(cio_readexactly(s, buf, N - 3, NULL), N - 3);
    cr_assert(memcmp(buf, data + 3, N - 3) == 0);
    free(buf);
    free(data);
    stream_drop(s);
    close(peer);
    return 0;
}

/* SQLite style: fail the 1st, 2nd, ... allocation until the call
 * succeeds; every failure is -ENOMEM and the final result is intact. */
STREAM_TEST(oom, every_allocation_of_readuntil_readline_and_read_all)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    enum { LINE = 30000, REST = 70000 };
    char *line = pattern_new(LINE + 1 + REST, 9);
    for (size_t i = 0; i < LINE + 1 + REST; i++)
        if (line[i] == '\n' || line[i] == '|')
            line[i] = 'x';
    line[LINE - 1] = '|';
    line[LINE] = '\n';
    fd_write_all(peer, line, LINE + 1);
    fd_write_all(peer, line + LINE + 1, REST);
    shutdown(peer, SHUT_WR);
    char *buf = malloc(LINE + 1);
    char first[1];
    cr_assert_eq(cio_read(s, first, 1), 1);

    int fails = 0;
    ssize_t rc;
    for (unsigned long n = 1;; n++) {
        cio__fault_arm(CIO_FAULT_ALLOC, n, ENOMEM, false);
        rc = cio_readuntil(s, "|", 1, buf, LINE);
        cio__fault_reset();
        if (rc != -ENOMEM)
            break;
        fails++;
        cr_assert_lt(n, 100);
    }
    EXPECT_ERR(rc, LINE - 1);
    cr_assert(memcmp(buf, line + 1, LINE - 1) == 0);
    cr_assert_gt(fails, 0, "no allocation could be failed: not a growth test");

    for (unsigned long n = 1;; n++) {
        cio__fault_arm(CIO_FAULT_ALLOC, n, ENOMEM, false);
        rc = cio_readline(s, buf, LINE);
        cio__fault_reset();
        if (rc != -ENOMEM)
            break;
        cr_assert_lt(n, 100);
    }
    EXPECT_BYTES(rc, buf, "\n");

    char *all = NULL;
    size_t len = 0;
    fails = 0;
    for (unsigned long n = 1;; n++) {
        cio__fault_arm(CIO_FAULT_ALLOC, n, ENOMEM, false);
        rc = cio_read_all(s, &all, &len);
        cio__fault_reset();
        if (rc != -ENOMEM)
            break;
        cr_assert_null(all, "a failed read_all handed over a buffer");
        fails++;
        cr_assert_lt(n, 100);
    }
    EXPECT_ERR(rc, REST);
    cr_assert_eq(len, REST);
    cr_assert(memcmp(all, line + LINE + 1, REST) == 0);
    cr_assert_gt(fails, 0);
    free(all);
    free(buf);
    free(line);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(oom, queuing_a_write_is_ENOMEM_nothing_queued_stream_usable)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    size_t filled = fd_fill(cio_stream_fd(s));
    char *data = pattern_new(60000, 10);
    cr_assert_eq(cio_write(s, data, 50000), 0);
    cr_assert_eq(cio_write_buffer_size(s), 50000);
    cio__fault_arm(CIO_FAULT_ALLOC, 1, ENOMEM, false);
    EXPECT_ERR(cio_write(s, data + 50000, 10000), -ENOMEM);
    cio__fault_reset();
    cr_assert_eq(cio_write_buffer_size(s), 50000, "a failed write queued bytes");
    cr_assert(!cio_is_closing(s), "-ENOMEM with nothing sent must not end the stream");
    cr_assert_eq(cio_write(s, data + 50000, 10000), 0);
    cr_assert_eq(cio_write_buffer_size(s), 60000);

    /* Also with nothing queued and the socket full (EAGAIN, nothing sent). */
    cio_close(s);
    char *got = NULL;
    size_t n = fd_read_to_eof(peer, &got);
    cr_assert_eq(n, filled + 60000, "peer got %zu, want %zu", n, filled + 60000);
    cr_assert(memcmp(got + filled, data, 60000) == 0, "bytes lost or duplicated");
    free(got);
    EXPECT_ERR(cio_wait_closed(s), 0);
    cio_stream_release(s);
    close(peer);

    s = raw_pair(&peer, NULL);
    filled = fd_fill(cio_stream_fd(s));
    cio__fault_arm(CIO_FAULT_ALLOC, 1, ENOMEM, false);
    EXPECT_ERR(cio_write(s, data, 100), -ENOMEM);
    cio__fault_reset();
    cr_assert_eq(cio_write_buffer_size(s), 0);
    cr_assert(!cio_is_closing(s));
    cr_assert_eq(cio_write(s, data, 100), 0);
    cio_close(s);
    n = fd_read_to_eof(peer, &got);
    cr_assert_eq(n, filled + 100);
    cr_assert(memcmp(got + filled, data, 100) == 0);
    free(got);
    cio_stream_release(s);
    close(peer);
    free(data);
    return 0;
}

STREAM_TEST(oom, queuing_the_rest_of_a_partly_sent_write_ends_the_connection_cleanly)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    fd_sndbuf(cio_stream_fd(s), 4096);
    char *data = pattern_new(100000, 11);
    cio__fault_arm(CIO_FAULT_ALLOC, 1, ENOMEM, false);
    EXPECT_ERR(cio_write(s, data, 100000), -ENOMEM);
    cio__fault_reset();
    /* Part is on the wire and the rest is gone: the stream cannot go on. */
    cr_assert(cio_is_closing(s));
    EXPECT_ERR(cio_write(s, "x", 1), -ENOMEM);
    EXPECT_ERR(cio_wait_closed(s), -ENOMEM);
    char *got = NULL;
    size_t n = fd_read_to_eof(peer, &got);
    cr_assert_gt(n, 0);
    cr_assert_lt(n, 100000);
    cr_assert(memcmp(got, data, n) == 0, "the peer got something other than a prefix");
    free(got);
    free(data);
    stream_drop(s);
    close(peer);
    return 0;
}
