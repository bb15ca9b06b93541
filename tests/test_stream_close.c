/* The stream's close path against docs/contract.md, "Writing and closing": close
 * flushes the queue and is bounded by the close timeout, abort discards
 * it, is_closing, wait_closed, and what the reader and writer report once
 * the stream is closed (asyncio: at_eof is true and read gives b'';
 * drain raises ConnectionResetError). */
#include "stream_helpers.h"

TestSuite(close, .timeout = 30);

/* ---- close, abort, is_closing, wait_closed ------------------------------------------------- */

STREAM_TEST(close, flushes_queued_data_before_closing)
{
    int peer;
    size_t filled;
    cio_stream *s = full_pair(&peer, &filled, NULL);
    char *data = pattern_new(MiB, 9);
    cr_assert_eq(cio_write(s, data, MiB), 0);
    op w = {.s = s, .kind = OP_WAIT_CLOSED};
    cio_close(s);
    cr_assert(cio_is_closing(s));
    EXPECT_ERR(cio_write(s, "late", 4), -ESHUTDOWN);
    cio_task *t = op_spawn_blocked(&w);
    expect_peer_gets(peer, filled, data, MiB);
    op_join(t);
    EXPECT_ERR(w.rc, 0);
    EXPECT_ERR(cio_wait_closed(s), 0);
    EXPECT_ERR(cio_stream_fd(s), -EBADF);
    free(data);
    cio_stream_release(s);
    close(peer);
    return 0;
}

STREAM_TEST(close, releasing_the_last_reference_closes_gracefully)
{
    int peer;
    size_t filled;
    cio_stream *s = full_pair(&peer, &filled, NULL);
    char *data = pattern_new(100000, 10);
    cr_assert_eq(cio_write(s, data, 100000), 0);
    cio_stream_release(s); /* no close: the stream flushes, then closes */
    expect_peer_gets(peer, filled, data, 100000);
    free(data);
    close(peer);
    return 0;
}

STREAM_TEST(close, is_bounded_by_the_close_timeout)
{
    int peer;
    size_t filled;
    cio_stream_opts o = CIO_STREAM_OPTS_INIT;
    o.close_timeout = 0.2;
    cio_stream *s = full_pair(&peer, &filled, &o);
    char *data = pattern_new(100000, 11);
    cr_assert_eq(cio_write(s, data, 100000), 0);
    op d = {.s = s, .kind = OP_DRAIN};
    cio_task *t = op_spawn_blocked(&d);
    double t0 = cio_time();
    cio_close(s);
    /* The peer never reads: the close gives up after close_timeout. */
    int rc = cio_wait_closed(s);
    double took = cio_time() - t0;
    EXPECT_ERR(rc, -ETIMEDOUT);
    cr_assert_geq(took, 0.15, "closed after %.3f s", took);
    cr_assert_lt(took, 2.0, "closed after %.3f s", took);
    EXPECT_ERR(cio_stream_fd(s), -EBADF);
    cr_assert_eq(cio_write_buffer_size(s), 0, "the queue was not discarded");
    op_join(t);
    EXPECT_ERR(d.rc, -ETIMEDOUT); /* a drainer whose data was discarded gets the close's error */
    free(data);
    cio_stream_release(s);
    close(peer);
    return 0;
}

STREAM_TEST(close, abort_with_queued_data_gives_drainers_ECONNABORTED)
{
    int peer;
    size_t filled;
    cio_stream *s = full_pair(&peer, &filled, NULL);
    char *data = pattern_new(100000, 12);
    cr_assert_eq(cio_write(s, data, 100000), 0);
    op d1 = {.s = s, .kind = OP_DRAIN}, d2 = {.s = s, .kind = OP_DRAIN};
    cio_task *t1 = op_spawn_blocked(&d1);
    cio_task *t2 = op_spawn_blocked(&d2);
    cio_abort(s);
    cr_assert(cio_is_closing(s));
    cr_assert_eq(cio_write_buffer_size(s), 0);
    op_join(t1);
    op_join(t2);
    EXPECT_ERR(d1.rc, -ECONNABORTED);
    EXPECT_ERR(d2.rc, -ECONNABORTED);
    EXPECT_ERR(cio_drain(s), -ECONNABORTED);
    EXPECT_ERR(cio_write(s, "x", 1), -ECONNABORTED);
    EXPECT_ERR(cio_stream_fd(s), -EBADF);
    /* The peer gets what was sent, then the end; never the discarded queue. */
    char buf[4096];
    size_t got = 0;
    for (;;) {
        ssize_t n = fd_read_some(peer, buf, sizeof(buf));
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    cr_assert_eq(got, filled);
    free(data);
    cio_stream_release(s);
    close(peer);
    return 0;
}

STREAM_TEST(close, is_closing_false_after_peer_eof_true_after_close_and_abort)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[8];
    cr_assert(!cio_is_closing(s));
    shutdown(peer, SHUT_WR);
    EXPECT_ERR(cio_read(s, buf, sizeof(buf)), 0);
    cr_assert(!cio_is_closing(s), "peer EOF leaves the connection half-open");
    cr_assert_eq(cio_write(s, "still", 5), 0);
    fd_read_exact(peer, buf, 5);
    cr_assert(memcmp(buf, "still", 5) == 0);
    cio_close(s);
    cr_assert(cio_is_closing(s));
    EXPECT_ERR(cio_wait_closed(s), 0);
    cr_assert(cio_is_closing(s));
    cio_stream_release(s);
    close(peer);

    s = raw_pair(&peer, NULL);
    cio_abort(s);
    cr_assert(cio_is_closing(s));
    EXPECT_ERR(cio_wait_closed(s), 0);
    cio_stream_release(s);
    close(peer);
    return 0;
}

STREAM_TEST(close, wait_closed_returns_to_every_waiter_and_at_once_afterwards)
{
    int peer;
    size_t filled;
    cio_stream *s = full_pair(&peer, &filled, NULL);
    cr_assert_eq(cio_write(s, "tail", 4), 0);
    op w1 = {.s = s, .kind = OP_WAIT_CLOSED}, w2 = {.s = s, .kind = OP_WAIT_CLOSED};
    cio_task *t1 = op_spawn_blocked(&w1);
    cio_task *t2 = op_spawn_blocked(&w2);
    cio_close(s);
    t_yield_n(3);
    cr_assert(!cio_task_done(t1) && !cio_task_done(t2), "closed before the queue was flushed");
    expect_peer_gets(peer, filled, "tail", 4);
    op_join(t1);
    op_join(t2);
    EXPECT_ERR(w1.rc, 0);
    EXPECT_ERR(w2.rc, 0);
    int ran = 0;
    cio_task *r = t_spawn(t_set_flag, &ran);
    EXPECT_ERR(cio_wait_closed(s), 0);
    cr_assert_eq(ran, 0, "wait_closed on a closed stream suspended the caller");
    t_join(r);
    cio_stream_release(s);
    close(peer);
    return 0;
}

/* asyncio: connection_lost() feeds EOF to the reader, so after close()
 * and wait_closed() at_eof() is true and read() returns b''. */
STREAM_TEST(close, at_eof_is_true_and_read_gives_0_once_closed)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[8];
    cr_assert(!cio_at_eof(s));
    cio_close(s);
    EXPECT_ERR(cio_wait_closed(s), 0);
    cr_assert(cio_at_eof(s), "at_eof is false after close + wait_closed");
    EXPECT_ERR(cio_read(s, buf, sizeof(buf)), 0);
    cio_stream_release(s);
    close(peer);

    /* abort is connection_lost(None) too. */
    s = raw_pair(&peer, NULL);
    cio_abort(s);
    EXPECT_ERR(cio_wait_closed(s), 0);
    cr_assert(cio_at_eof(s), "at_eof is false after abort");
    cio_stream_release(s);
    close(peer);
    return 0;
}

STREAM_TEST(close, bytes_received_before_close_stay_readable_then_at_eof)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[8];
    fd_write_str(peer, "abcdef");
    EXPECT_ERR(cio_readexactly(s, buf, 2, NULL), 2);
    cio_close(s);
    EXPECT_ERR(cio_wait_closed(s), 0);
    cr_assert(!cio_at_eof(s), "at_eof with 4 bytes still buffered");
    EXPECT_ERR(cio_read(s, buf, sizeof(buf)), 4);
    cr_assert(memcmp(buf, "cdef", 4) == 0);
    cr_assert(cio_at_eof(s));
    cio_stream_release(s);
    close(peer);
    return 0;
}

/* asyncio: drain() on a closing transport yields once, then raises
 * ConnectionResetError('Connection lost') once the connection is lost,
 * and again on every later drain. */
STREAM_TEST(close, drain_after_close_is_ECONNRESET_every_time)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    cr_assert_eq(cio_write(s, "bye", 3), 0);
    cio_close(s);
    EXPECT_ERR(cio_wait_closed(s), 0);
    EXPECT_ERR(cio_drain(s), -ECONNRESET);
    EXPECT_ERR(cio_drain(s), -ECONNRESET);
    char buf[4];
    fd_read_exact(peer, buf, 3);
    cio_stream_release(s);
    close(peer);
    return 0;
}

STREAM_TEST(close, drain_right_after_close_reports_the_loss_once_it_is_closed)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    cio_close(s);
    /* The close completes in the loop; the drain, which yields first,
     * sees it done. */
    EXPECT_ERR(cio_drain(s), -ECONNRESET);
    cr_assert_eq(cio_wait_closed(s), 0);
    cio_stream_release(s);
    close(peer);
    return 0;
}
