/* The stream reader against docs/contract.md, "Reading" and the reader
 * rows of "Defaults": read, read_all, readexactly, readuntil (one
 * separator and sets), readline with its resynchronisation, at_eof, the
 * one-reader rule, cancellation and timeouts that lose no byte, and the
 * bytes received before a reset.  Each test is named after the rule it
 * checks.  The peer is a raw fd the test writes to with write(2) and ends
 * with shutdown(2) (EOF) or an SO_LINGER {1, 0} close (reset). */
#include "stream_helpers.h"

TestSuite(defaults, .timeout = 30);
TestSuite(read, .timeout = 30);
TestSuite(read_all, .timeout = 30);
TestSuite(readexactly, .timeout = 30);
TestSuite(readuntil, .timeout = 30);
TestSuite(readline, .timeout = 30);
TestSuite(at_eof, .timeout = 30);
TestSuite(one_reader, .timeout = 30);
TestSuite(interrupt, .timeout = 30);
TestSuite(reset, .timeout = 30);

/* ---- defaults ------------------------------------------------------------------- */

STREAM_TEST(defaults, limit_default_is_65536)
{
    cio_stream_opts o = CIO_STREAM_OPTS_INIT;
    cr_assert_eq(o.limit, 0, "0 means the default");
    cr_assert_eq(CIO_DEFAULT_LIMIT, 65536);
    int peer, peer2;
    cio_stream *s = raw_pair(&peer, NULL);
    cio_stream *s2 = raw_pair(&peer2, &o);
    cr_assert_eq(cio_stream_limit(s), 65536);
    cr_assert_eq(cio_stream_limit(s2), 65536);

    /* Behaviour: 65536 bytes before the newline pass, 65537 do not. */
    size_t cap = 65537 + 16;
    char *line = malloc(cap);
    memset(line, 'x', cap);
    line[65536] = '\n';
    fd_write_all(peer, line, 65537);
    char *buf = malloc(cap);
    ssize_t n = cio_readline(s, buf, cap);
    cr_assert_eq(n, 65537, "a 65536-byte line is within the default limit: %zd", n);
    cr_assert(memcmp(buf, line, 65537) == 0);
    line[65536] = 'x';
    line[65537] = '\n';
    fd_write_all(peer, line, 65538);
    fd_write_str(peer, "ok\n");
    EXPECT_ERR(cio_readline(s, buf, cap), CIO_ELIMIT);
    EXPECT_BYTES(cio_readline(s, buf, cap), buf, "ok\n");
    free(line);
    free(buf);
    stream_drop(s);
    stream_drop(s2);
    close(peer);
    close(peer2);
    return 0;
}

static void expect_bad_limit(ssize_t limit)
{
    int sv[2];
    unix_pair(sv);
    cio_stream_opts o = opts_limit(limit);
    cio_stream *s = NULL;
    EXPECT_ERR(cio_stream_from_fd(&s, sv[0], &o), -EINVAL);
    /* The stream takes the fd over even on failure. */
    errno = 0;
    cr_assert_eq(fcntl(sv[0], F_GETFD), -1, "fd %d still open after a failed from_fd", sv[0]);
    cr_assert_eq(errno, EBADF);
    close(sv[1]);
}

STREAM_TEST(defaults, limit_negative_is_EINVAL_and_zero_is_the_default)
{
    int peer;
    cio_stream *s = raw_pair(&peer, &(cio_stream_opts){.limit = 0});
    cr_assert_eq(cio_stream_limit(s), CIO_DEFAULT_LIMIT);
    stream_drop(s);
    close(peer);
    expect_bad_limit(-1);
    expect_bad_limit(-65536);
    return 0;
}

STREAM_TEST(defaults, limit_is_settable)
{
    int peer;
    cio_stream_opts o = opts_limit(5);
    cio_stream *s = raw_pair(&peer, &o);
    cr_assert_eq(cio_stream_limit(s), 5);
    char buf[64];
    fd_write_str(peer, "12345|123456|");
    EXPECT_BYTES(cio_readuntil(s, "|", 1, buf, sizeof(buf)), buf, "12345|");
    EXPECT_ERR(cio_readuntil(s, "|", 1, buf, sizeof(buf)), CIO_ELIMIT);
    stream_drop(s);
    close(peer);
    return 0;
}

/* ---- read(n) ----------------------------------------------------------------------- */

STREAM_TEST(read, returns_what_is_there_up_to_n)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[100];
    fd_write_str(peer, "hello");
    EXPECT_BYTES(cio_read(s, buf, sizeof(buf)), buf, "hello");
    fd_write_str(peer, "abcdef");
    EXPECT_BYTES(cio_read(s, buf, 4), buf, "abcd");
    EXPECT_BYTES(cio_read(s, buf, sizeof(buf)), buf, "ef");
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(read, waits_for_at_least_one_byte)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    op o = {.s = s, .kind = OP_READ, .n = 100};
    cio_task *t = op_spawn_blocked(&o);
    t_yield_n(3);
    cr_assert(!cio_task_done(t), "read returned with nothing to read");
    fd_write_str(peer, "x");
    op_join(t);
    OP_EXPECT(&o, "x");
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(read, returns_0_at_eof)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[100];
    fd_write_str(peer, "ab");
    shutdown(peer, SHUT_WR);
    EXPECT_BYTES(cio_read(s, buf, sizeof(buf)), buf, "ab");
    EXPECT_ERR(cio_read(s, buf, sizeof(buf)), 0);
    EXPECT_ERR(cio_read(s, buf, sizeof(buf)), 0);
    EXPECT_ERR(cio_read(s, buf, 8192), 0);

    /* A reader waiting when EOF comes gets 0 too. */
    int peer2;
    cio_stream *s2 = raw_pair(&peer2, NULL);
    op o = {.s = s2, .kind = OP_READ, .n = 10};
    cio_task *t = op_spawn_blocked(&o);
    shutdown(peer2, SHUT_WR);
    op_join(t);
    EXPECT_ERR(o.rc, 0);
    stream_drop(s);
    stream_drop(s2);
    close(peer);
    close(peer2);
    return 0;
}

STREAM_TEST(read, n_0_returns_0_at_once)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[4];
    int ran = 0;
    cio_task *t = t_spawn(t_set_flag, &ran);
    EXPECT_ERR(cio_read(s, buf, 0), 0);
    cr_assert_eq(ran, 0, "read(0) suspended the caller");
    /* With data buffered, read(0) consumes nothing. */
    fd_write_str(peer, "abc");
    cr_assert_eq(cio_readexactly(s, buf, 1, NULL), 1);
    EXPECT_ERR(cio_read(s, buf, 0), 0);
    cr_assert_eq(cio_stream_buffered(s), 2);
    EXPECT_BYTES(cio_read(s, buf, 4), buf, "bc");
    t_join(t);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(read, is_not_bounded_by_the_limit)
{
    int peer;
    cio_stream_opts o = opts_limit(16);
    cio_stream *s = raw_pair(&peer, &o);
    char *data = pattern_new(100000, 1);
    char *buf = malloc(200000);
    fd_write_all(peer, data, 1000);
    cr_assert_eq(cio_read(s, buf, 1000), 1000, "read(1000) with limit 16");
    cr_assert(memcmp(buf, data, 1000) == 0);

    fd_write_all(peer, data, 100000);
    ssize_t first = cio_read(s, buf, 200000);
    cr_assert_gt(first, 16, "a large read stopped at the limit: %zd", first);
    size_t got = (size_t)first;
    while (got < 100000) {
        ssize_t n = cio_read(s, buf + got, 200000 - got);
        cr_assert_gt(n, 0);
        got += (size_t)n;
    }
    cr_assert_eq(got, 100000);
    cr_assert(memcmp(buf, data, 100000) == 0);
    free(data);
    free(buf);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(read, mixed_sizes_keep_the_byte_order)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    enum { N = 60000 };
    char *data = pattern_new(N, 2);
    char *buf = malloc(N + 1);
    fd_write_all(peer, data, N);
    shutdown(peer, SHUT_WR);
    static const size_t sizes[] = {1, 7, 4096, 5000, 3, 65536, 2, 4095, 9000};
    size_t got = 0;
    for (int i = 0;; i++) {
        size_t want = sizes[i % 9];
        ssize_t n = cio_read(s, buf + got, want < N - got ? want : N - got ? N - got : 1);
        cr_assert_geq(n, 0);
        if (n == 0)
            break;
        got += (size_t)n;
    }
    cr_assert_eq(got, N);
    cr_assert(memcmp(buf, data, N) == 0);
    free(data);
    free(buf);
    stream_drop(s);
    close(peer);
    return 0;
}

/* ---- read_all ------------------------------------------------------------------------ */

struct feeder {
    int fd;
    const char *data;
    size_t len, piece;
    bool eof;
};

/* Writes data in pieces, yielding between them, then shuts down. */
static intptr_t feeder_task(void *arg)
{
    struct feeder *f = arg;
    for (size_t off = 0; off < f->len; off += f->piece) {
        size_t n = f->len - off < f->piece ? f->len - off : f->piece;
        fd_write_all(f->fd, f->data + off, n);
        t_yield_n(2);
    }
    if (f->eof)
        shutdown(f->fd, SHUT_WR);
    return 0;
}

STREAM_TEST(read_all, returns_everything_until_eof)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    enum { N = 300 * 1024 };
    char *data = pattern_new(N, 3);
    struct feeder f = {.fd = peer, .data = data, .len = N, .piece = 10000, .eof = true};
    cio_task *t = t_spawn(feeder_task, &f);
    char *all = NULL;
    size_t len = 0;
    cr_assert_eq(cio_read_all(s, &all, &len), N);
    cr_assert_eq(len, N);
    cr_assert(memcmp(all, data, N) == 0);
    free(all);
    t_join(t);
    cr_assert(cio_at_eof(s));
    free(data);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(read_all, includes_bytes_already_buffered)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[64];
    fd_write_str(peer, "line\nrest of it");
    shutdown(peer, SHUT_WR);
    EXPECT_BYTES(cio_readline(s, buf, sizeof(buf)), buf, "line\n");
    char *all = NULL;
    size_t len = 0;
    EXPECT_ERR(cio_read_all(s, &all, &len), 10);
    cr_assert_eq(len, 10);
    cr_assert(memcmp(all, "rest of it", 10) == 0);
    free(all);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(read_all, at_eof_returns_0_and_no_buffer)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    shutdown(peer, SHUT_WR);
    char *all = (char *)1;
    size_t len = 99;
    EXPECT_ERR(cio_read_all(s, &all, &len), 0);
    cr_assert_null(all);
    cr_assert_eq(len, 0);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(read_all, after_reset_delivers_bytes_gathered_and_the_error)
{
    int peer;
    cio_stream *s = tcp_raw_pair(&peer, NULL);
    /* Part of the data is gathered while read_all waits, part arrives
     * with the reset. */
    op o = {.s = s, .kind = OP_READ_ALL, .timeout = 5};
    fd_write_str(peer, "part one, ");
    cio_task *t = op_spawn_blocked(&o);
    YIELD_UNTIL(cio_stream_buffered(s) == 10 && s->reader == t);
    fd_write_str(peer, "part two");
    fd_rst_close(peer);
    op_join(t);
    EXPECT_ERR(o.rc, -ECONNRESET);
    cr_assert_eq(o.all_len, 18, "bytes handed over with the error: %zu", o.all_len);
    cr_assert_not_null(o.all);
    cr_assert(memcmp(o.all, "part one, part two", 18) == 0);
    free(o.all);
    stream_drop(s);
    return 0;
}

/* ---- readexactly ------------------------------------------------------------------------ */

STREAM_TEST(readexactly, returns_exactly_n)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[16];
    size_t partial = 99;
    fd_write_str(peer, "abcdefgh");
    EXPECT_BYTES(cio_readexactly(s, buf, 5, &partial), buf, "abcde");
    cr_assert_eq(partial, 0);
    EXPECT_BYTES(cio_readexactly(s, buf, 3, NULL), buf, "fgh");
    cr_assert_eq(cio_stream_buffered(s), 0);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(readexactly, waits_across_chunks)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    op o = {.s = s, .kind = OP_READEXACTLY, .n = 10};
    cio_task *t = op_spawn_blocked(&o);
    fd_write_str(peer, "abc");
    YIELD_UNTIL(cio_stream_buffered(s) == 3 && s->reader == t);
    fd_write_str(peer, "defg");
    YIELD_UNTIL(cio_stream_buffered(s) == 7 && s->reader == t);
    fd_write_str(peer, "hijkl");
    op_join(t);
    OP_EXPECT(&o, "abcdefghij");
    char buf[4];
    EXPECT_BYTES(cio_read(s, buf, 4), buf, "kl");
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(readexactly, eof_first_is_EINCOMPLETE_with_the_partial_bytes)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[16];
    size_t partial = 0;
    fd_write_str(peer, "abc");
    shutdown(peer, SHUT_WR);
    EXPECT_ERR(cio_readexactly(s, buf, 10, &partial), CIO_EINCOMPLETE);
    cr_assert_eq(partial, 3);
    cr_assert(memcmp(buf, "abc", 3) == 0);
    cr_assert(cio_at_eof(s));
    EXPECT_ERR(cio_read(s, buf, sizeof(buf)), 0);
    /* Nothing left: partial 0, still distinguishable from success. */
    EXPECT_ERR(cio_readexactly(s, buf, 10, &partial), CIO_EINCOMPLETE);
    cr_assert_eq(partial, 0);
    EXPECT_ERR(cio_readexactly(s, buf, 10, NULL), CIO_EINCOMPLETE);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(readexactly, n_0_returns_0_at_once)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[4];
    size_t partial = 7;
    int ran = 0;
    cio_task *t = t_spawn(t_set_flag, &ran);
    EXPECT_ERR(cio_readexactly(s, buf, 0, &partial), 0);
    cr_assert_eq(partial, 0);
    cr_assert_eq(ran, 0, "readexactly(0) suspended the caller");
    t_join(t);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(readexactly, more_than_twice_the_limit_does_not_deadlock)
{
    int peer;
    cio_stream_opts o = opts_limit(1024);
    cio_stream *s = raw_pair(&peer, &o);
    cio_timeout scope;
    cio_timeout_enter(&scope, 10);

    char *data = pattern_new(10000, 4);
    char buf[10000];
    struct feeder f = {.fd = peer, .data = data, .len = 10000, .piece = 1000};
    cio_task *t = t_spawn(feeder_task, &f);
    cr_assert_eq(cio_readexactly(s, buf, 10000, NULL), 10000);
    cr_assert(memcmp(buf, data, 10000) == 0);
    t_join(t);
    free(data);

    /* 1 MiB with a 1 KiB limit, written as fast as the socket takes it. */
    enum { BIG = 1 << 20 };
    data = pattern_new(BIG, 5);
    char *big = malloc(BIG);
    f = (struct feeder){.fd = peer, .data = data, .len = BIG, .piece = BIG};
    t = t_spawn(feeder_task, &f);
    ssize_t n = cio_readexactly(s, big, BIG, NULL);
    cr_assert_eq(n, BIG, "readexactly(1 MiB), limit 1 KiB: %zd", n);
    cr_assert(memcmp(big, data, BIG) == 0);
    t_join(t);
    cr_assert(!cio_timeout_exit(&scope));
    free(data);
    free(big);
    stream_drop(s);
    close(peer);
    return 0;
}

/* ---- readuntil ---------------------------------------------------------------------------- */

STREAM_TEST(readuntil, multi_byte_separator)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[64];
    fd_write_str(peer, "abc\r\ndef\r\nxyz");
    EXPECT_BYTES(cio_readuntil(s, "\r\n", 2, buf, sizeof(buf)), buf, "abc\r\n");
    EXPECT_BYTES(cio_readuntil(s, "\r\n", 2, buf, sizeof(buf)), buf, "def\r\n");
    cr_assert_eq(cio_stream_buffered(s), 3);
    /* asyncio test_readuntil_multi_chunks */
    fd_write_str(peer, "lineAAAxxx");
    EXPECT_BYTES(cio_readuntil(s, "AAA", 3, buf, sizeof(buf)), buf, "xyzlineAAA");
    EXPECT_BYTES(cio_read(s, buf, sizeof(buf)), buf, "xxx");
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(readuntil, separator_split_across_chunks)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    op o = {.s = s, .kind = OP_READUNTIL, .sep = "\r\n\r\n", .seplen = 4};
    cio_task *t = op_spawn_blocked(&o);
    const char *pieces[] = {"head\r", "\n", "\r"};
    size_t have = 0;
    for (int i = 0; i < 3; i++) {
        fd_write_str(peer, pieces[i]);
        have += strlen(pieces[i]);
        YIELD_UNTIL(cio_stream_buffered(s) == have && s->reader == t);
    }
    fd_write_str(peer, "\nbody");
    op_join(t);
    OP_EXPECT(&o, "head\r\n\r\n");
    char buf[16];
    EXPECT_BYTES(cio_read(s, buf, sizeof(buf)), buf, "body");

    /* asyncio test_readuntil_multi_chunks_1: "QWEaa" "XYaa" "a" */
    o = (op){.s = s, .kind = OP_READUNTIL, .sep = "aaa", .seplen = 3};
    t = op_spawn_blocked(&o);
    fd_write_str(peer, "QWEaa");
    YIELD_UNTIL(cio_stream_buffered(s) == 5 && s->reader == t);
    fd_write_str(peer, "XYaa");
    YIELD_UNTIL(cio_stream_buffered(s) == 9 && s->reader == t);
    fd_write_str(peer, "a");
    op_join(t);
    OP_EXPECT(&o, "QWEaaXYaaa");
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(readuntil, separator_found_even_when_eof_came_with_it)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[16];
    fd_write_str(peer, "abc|");
    shutdown(peer, SHUT_WR);
    EXPECT_BYTES(cio_readuntil(s, "|", 1, buf, sizeof(buf)), buf, "abc|");
    EXPECT_ERR(cio_readuntil(s, "|", 1, buf, sizeof(buf)), CIO_EINCOMPLETE);
    cr_assert(cio_at_eof(s));
    stream_drop(s);
    close(peer);
    return 0;
}

static ssize_t until_any(cio_stream *s, const char *a, const char *b, char *buf, size_t cap)
{
    struct iovec seps[2] = {{(void *)a, strlen(a)}, {(void *)b, strlen(b)}};
    return cio_readuntil_any(s, seps, 2, buf, cap);
}

STREAM_TEST(readuntil, set_of_separators_the_match_ending_first_wins)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[64];
    /* asyncio test_readuntil_multi_separator */
    fd_write_str(peer, "line 1\nline 2\r");
    EXPECT_BYTES(until_any(s, "\r", "\n", buf, sizeof(buf)), buf, "line 1\n");
    EXPECT_BYTES(until_any(s, "\r", "\n", buf, sizeof(buf)), buf, "line 2\r");
    cr_assert_eq(cio_stream_buffered(s), 0);
    /* The first end position wins even if that match is the longer one
     * and starts later... */
    fd_write_str(peer, "ABCDEFG");
    EXPECT_BYTES(until_any(s, "DEF", "BCDE", buf, sizeof(buf)), buf, "ABCDE");
    EXPECT_BYTES(cio_read(s, buf, sizeof(buf)), buf, "FG");
    /* ...or starts earlier. */
    fd_write_str(peer, "xxabcdyy");
    EXPECT_BYTES(until_any(s, "abcd", "cdyy", buf, sizeof(buf)), buf, "xxabcd");
    EXPECT_BYTES(cio_read(s, buf, sizeof(buf)), buf, "yy");
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(readuntil, set_of_separators_a_tie_goes_to_the_shorter)
{
    int peer;
    char buf[64];
    /* asyncio test_readuntil_multi_separator_limit: "A" and "ome dataA"
     * both end at 10; the shorter wins, so the data before it is 9 bytes,
     * over the limit of 3.  (Had the longer won, it would be 1 byte.) */
    cio_stream_opts o = opts_limit(3);
    cio_stream *s = raw_pair(&peer, &o);
    fd_write_str(peer, "some dataA");
    EXPECT_ERR(until_any(s, "A", "ome dataA", buf, sizeof(buf)), CIO_ELIMIT);
    cr_assert_eq(cio_stream_overrun_consumed(s), 9);
    EXPECT_ERR(until_any(s, "ome dataA", "A", buf, sizeof(buf)), CIO_ELIMIT);
    cr_assert_eq(cio_stream_overrun_consumed(s), 9);
    cr_assert_eq(cio_stream_buffered(s), 10, "nothing consumed");
    stream_drop(s);
    close(peer);

    /* "xaby" with {"ab", "b"}: both end at 3; "b" starts at 2. */
    o = opts_limit(1);
    s = raw_pair(&peer, &o);
    fd_write_str(peer, "xaby");
    EXPECT_ERR(until_any(s, "ab", "b", buf, sizeof(buf)), CIO_ELIMIT);
    cr_assert_eq(cio_stream_overrun_consumed(s), 2);
    stream_drop(s);
    close(peer);
    o = opts_limit(2);
    s = raw_pair(&peer, &o);
    fd_write_str(peer, "xaby");
    EXPECT_BYTES(until_any(s, "ab", "b", buf, sizeof(buf)), buf, "xab");
    EXPECT_BYTES(cio_read(s, buf, sizeof(buf)), buf, "y");
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(readuntil, set_of_separators_shorter_than_the_longest_does_not_misscan)
{
    /* asyncio test_readuntil_multi_separator_negative_offset */
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    struct iovec seps[2] = {{"A", 1}, {"long sep", 8}};
    op o = {.s = s, .kind = OP_READUNTIL_ANY, .seps = seps, .nseps = 2};
    fd_write_str(peer, "data");
    cio_task *t = op_spawn_blocked(&o);
    YIELD_UNTIL(cio_stream_buffered(s) == 4 && s->reader == t);
    fd_write_str(peer, "Z");
    YIELD_UNTIL(cio_stream_buffered(s) == 5 && s->reader == t);
    fd_write_str(peer, "Aaaa");
    op_join(t);
    OP_EXPECT(&o, "dataZA");
    char buf[8];
    EXPECT_BYTES(cio_read(s, buf, sizeof(buf)), buf, "aaa");
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(readuntil, data_before_separator_equal_to_limit_is_ok)
{
    int peer;
    cio_stream_opts o = opts_limit(8);
    cio_stream *s = raw_pair(&peer, &o);
    char buf[64];
    fd_write_str(peer, "12345678|abcdefg\r\n");
    EXPECT_BYTES(cio_readuntil(s, "|", 1, buf, sizeof(buf)), buf, "12345678|");
    EXPECT_BYTES(cio_readuntil(s, "\r\n", 2, buf, sizeof(buf)), buf, "abcdefg\r\n");
    /* Not found yet with limit bytes buffered: wait, no error. */
    op w = {.s = s, .kind = OP_READUNTIL, .sep = "|", .seplen = 1};
    fd_write_str(peer, "12345678");
    cio_task *t = op_spawn_blocked(&w);
    YIELD_UNTIL(cio_stream_buffered(s) == 8 && s->reader == t);
    fd_write_str(peer, "|");
    op_join(t);
    OP_EXPECT(&w, "12345678|");
    /* Same with a 3-byte separator split over the limit boundary. */
    w = (op){.s = s, .kind = OP_READUNTIL, .sep = "END", .seplen = 3};
    fd_write_str(peer, "12345678EN");
    t = op_spawn_blocked(&w);
    YIELD_UNTIL(cio_stream_buffered(s) == 10 && s->reader == t);
    fd_write_str(peer, "D");
    op_join(t);
    OP_EXPECT(&w, "12345678END");
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(readuntil, separator_found_past_limit_is_ELIMIT_consumed_isep_nothing_consumed)
{
    int peer;
    cio_stream_opts o = opts_limit(8);
    cio_stream *s = raw_pair(&peer, &o);
    char buf[64];
    fd_write_str(peer, "123456789|");
    EXPECT_ERR(cio_readuntil(s, "|", 1, buf, sizeof(buf)), CIO_ELIMIT);
    cr_assert_eq(cio_stream_overrun_consumed(s), 9);
    cr_assert_eq(cio_stream_buffered(s), 10);
    EXPECT_BYTES(cio_read(s, buf, sizeof(buf)), buf, "123456789|");
    stream_drop(s);
    close(peer);

    /* asyncio test_readuntil_limit_found_sep, limit 3: "AAA" found at 9
     * (cio scans what it has buffered before it reads more, so the
     * "found" case gets the whole input at once). */
    o = opts_limit(3);
    s = raw_pair(&peer, &o);
    fd_write_str(peer, "some dataAAA");
    EXPECT_ERR(cio_readuntil(s, "AAA", 3, buf, sizeof(buf)), CIO_ELIMIT);
    cr_assert_eq(cio_stream_overrun_consumed(s), 9, "found at 9");
    cr_assert_eq(cio_stream_buffered(s), 12);
    stream_drop(s);
    close(peer);
    s = raw_pair(&peer, &o);
    fd_write_str(peer, "some dataAA");
    EXPECT_ERR(cio_readuntil(s, "AAA", 3, buf, sizeof(buf)), CIO_ELIMIT);
    cr_assert_eq(cio_stream_overrun_consumed(s), 9, "not found: 11 + 1 - 3");
    cr_assert_eq(cio_stream_buffered(s), 11);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(readuntil, separator_not_found_past_limit_is_ELIMIT_consumed_buflen_plus_1_minus_seplen)
{
    int peer;
    cio_stream_opts o = opts_limit(8);
    cio_stream *s = raw_pair(&peer, &o);
    char buf[64];
    /* One-byte separator: 9 bytes without it is over at once. */
    fd_write_str(peer, "123456789");
    EXPECT_ERR(cio_readuntil(s, "|", 1, buf, sizeof(buf)), CIO_ELIMIT);
    cr_assert_eq(cio_stream_overrun_consumed(s), 9);
    cr_assert_eq(cio_stream_buffered(s), 9);
    /* Two-byte separator: the last byte could start it, so 9 bytes are
     * not over yet (offset 8); one more is (offset 9). */
    op w = {.s = s, .kind = OP_READUNTIL, .sep = "\r\n", .seplen = 2};
    cio_task *t = op_spawn_blocked(&w);
    t_yield_n(3);
    cr_assert(!cio_task_done(t), "9 bytes, 2-byte separator, limit 8: must wait");
    fd_write_str(peer, "0");
    op_join(t);
    EXPECT_ERR(w.rc, CIO_ELIMIT);
    cr_assert_eq(cio_stream_overrun_consumed(s), 9, "10 + 1 - 2");
    cr_assert_eq(cio_stream_buffered(s), 10);
    /* Three-byte separator: 11 bytes -> 9. */
    fd_write_str(peer, "x");
    EXPECT_ERR(cio_readuntil(s, "END", 3, buf, sizeof(buf)), CIO_ELIMIT);
    cr_assert_eq(cio_stream_overrun_consumed(s), 9, "11 + 1 - 3");
    EXPECT_BYTES(cio_read(s, buf, sizeof(buf)), buf, "1234567890x");
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(readuntil, overrun_check_comes_before_eof)
{
    int peer;
    cio_stream_opts o = opts_limit(4);
    cio_stream *s = raw_pair(&peer, &o);
    char buf[64];
    fd_write_str(peer, "abcdefgh");
    shutdown(peer, SHUT_WR);
    /* A 7-byte separator keeps the scan offset at 2, under the limit:
     * this sees EOF and leaves the data buffered. */
    EXPECT_ERR(cio_readuntil(s, "0123456", 7, buf, sizeof(buf)), CIO_EINCOMPLETE);
    cr_assert_eq(cio_stream_buffered(s), 8);
    cr_assert(!cio_at_eof(s));
    /* EOF is known now, yet 8 bytes without "|" overrun the limit: the
     * limit error comes first. */
    EXPECT_ERR(cio_readuntil(s, "|", 1, buf, sizeof(buf)), CIO_ELIMIT);
    cr_assert_eq(cio_stream_overrun_consumed(s), 8);
    cr_assert_eq(cio_stream_buffered(s), 8);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(readuntil, eof_before_separator_is_EINCOMPLETE_and_the_data_stays_readable)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[64];
    /* asyncio test_readuntil_eof */
    fd_write_str(peer, "some dataAA");
    shutdown(peer, SHUT_WR);
    EXPECT_ERR(cio_readuntil(s, "AAA", 3, buf, sizeof(buf)), CIO_EINCOMPLETE);
    cr_assert_eq(cio_stream_buffered(s), 11);
    EXPECT_BYTES(cio_read(s, buf, sizeof(buf)), buf, "some dataAA");
    EXPECT_ERR(cio_read(s, buf, sizeof(buf)), 0);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(readuntil, empty_separator_or_empty_set_is_EINVAL)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[16];
    fd_write_str(peer, "a|");
    EXPECT_ERR(cio_readuntil(s, "", 0, buf, sizeof(buf)), -EINVAL);
    struct iovec none[1] = {{"|", 1}};
    EXPECT_ERR(cio_readuntil_any(s, none, 0, buf, sizeof(buf)), -EINVAL);
    struct iovec with_empty[2] = {{"|", 1}, {"", 0}};
    EXPECT_ERR(cio_readuntil_any(s, with_empty, 2, buf, sizeof(buf)), -EINVAL);
    const char *view = NULL;
    EXPECT_ERR(cio_readuntil_view(s, "", 0, &view), -EINVAL);
    EXPECT_BYTES(cio_readuntil(s, "|", 1, buf, sizeof(buf)), buf, "a|");
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(readuntil, buffer_too_small_is_EBUFSIZE_nothing_consumed)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[64];
    fd_write_str(peer, "0123456789|0123456789\nlast");
    shutdown(peer, SHUT_WR);
    EXPECT_ERR(cio_readuntil(s, "|", 1, buf, 5), CIO_EBUFSIZE);
    cr_assert_eq(cio_stream_needed(s), 11);
    cr_assert_eq(cio_stream_buffered(s), 26);
    EXPECT_BYTES(cio_readuntil(s, "|", 1, buf, 11), buf, "0123456789|");
    EXPECT_ERR(cio_readline(s, buf, 4), CIO_EBUFSIZE);
    cr_assert_eq(cio_stream_needed(s), 11);
    EXPECT_BYTES(cio_readline(s, buf, 11), buf, "0123456789\n");
    /* The partial last line at EOF too. */
    EXPECT_ERR(cio_readline(s, buf, 3), CIO_EBUFSIZE);
    cr_assert_eq(cio_stream_needed(s), 4);
    EXPECT_BYTES(cio_readline(s, buf, 4), buf, "last");
    EXPECT_ERR(cio_readline(s, buf, 4), 0);
    stream_drop(s);
    close(peer);
    return 0;
}

/* ---- readline ---------------------------------------------------------------------------------
 */

STREAM_TEST(readline, returns_lines)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[64];
    fd_write_str(peer, "a\nbb\n\nccc\n");
    EXPECT_BYTES(cio_readline(s, buf, sizeof(buf)), buf, "a\n");
    EXPECT_BYTES(cio_readline(s, buf, sizeof(buf)), buf, "bb\n");
    EXPECT_BYTES(cio_readline(s, buf, sizeof(buf)), buf, "\n");
    EXPECT_BYTES(cio_readline(s, buf, sizeof(buf)), buf, "ccc\n");
    op o = {.s = s, .kind = OP_READLINE};
    cio_task *t = op_spawn_blocked(&o);
    fd_write_str(peer, "dd");
    YIELD_UNTIL(cio_stream_buffered(s) == 2 && s->reader == t);
    fd_write_str(peer, "d\n");
    op_join(t);
    OP_EXPECT(&o, "ddd\n");
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(readline, partial_last_line_at_eof_is_a_normal_result)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[64];
    fd_write_str(peer, "x\nlast");
    shutdown(peer, SHUT_WR);
    EXPECT_BYTES(cio_readline(s, buf, sizeof(buf)), buf, "x\n");
    EXPECT_BYTES(cio_readline(s, buf, sizeof(buf)), buf, "last");
    EXPECT_ERR(cio_readline(s, buf, sizeof(buf)), 0);
    stream_drop(s);
    close(peer);
    return 0;
}

/* The peer's last bytes and its EOF reach a reader that is already
 * waiting in one wake-up: the reader must see both (an edge-triggered
 * backend reports them once). */
STREAM_TEST(readline, partial_last_line_and_eof_arriving_together_while_waiting)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    op o = {.s = s, .kind = OP_READLINE, .timeout = 5};
    cio_task *t = op_spawn_blocked(&o);
    fd_write_str(peer, "last");
    shutdown(peer, SHUT_WR);
    op_join(t);
    OP_EXPECT(&o, "last");
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(read_all, last_bytes_and_eof_arriving_together_while_waiting)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    op o = {.s = s, .kind = OP_READ_ALL, .timeout = 5};
    cio_task *t = op_spawn_blocked(&o);
    fd_write_str(peer, "everything");
    shutdown(peer, SHUT_WR);
    op_join(t);
    EXPECT_ERR(o.rc, 10);
    cr_assert(o.all && memcmp(o.all, "everything", 10) == 0);
    free(o.all);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(readexactly, partial_bytes_and_eof_arriving_together_while_waiting)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    op o = {.s = s, .kind = OP_READEXACTLY, .n = 10, .timeout = 5};
    cio_task *t = op_spawn_blocked(&o);
    fd_write_str(peer, "abc");
    shutdown(peer, SHUT_WR);
    op_join(t);
    EXPECT_ERR(o.rc, CIO_EINCOMPLETE);
    cr_assert_eq(o.partial, 3);
    cr_assert(memcmp(o.buf, "abc", 3) == 0);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(readline, empty_at_eof_returns_0)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[8];
    op o = {.s = s, .kind = OP_READLINE};
    cio_task *t = op_spawn_blocked(&o);
    shutdown(peer, SHUT_WR);
    op_join(t);
    EXPECT_ERR(o.rc, 0);
    EXPECT_ERR(cio_readline(s, buf, sizeof(buf)), 0);
    EXPECT_ERR(cio_readline(s, buf, sizeof(buf)), 0);
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(readline, line_of_exactly_limit_bytes_is_ok)
{
    int peer;
    cio_stream_opts o = opts_limit(8);
    cio_stream *s = raw_pair(&peer, &o);
    char buf[64];
    fd_write_str(peer, "12345678\n123456789\nok\n");
    EXPECT_BYTES(cio_readline(s, buf, sizeof(buf)), buf, "12345678\n");
    EXPECT_ERR(cio_readline(s, buf, sizeof(buf)), CIO_ELIMIT);
    EXPECT_BYTES(cio_readline(s, buf, sizeof(buf)), buf, "ok\n");
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(readline, overlong_line_is_ELIMIT_and_the_next_readline_returns_the_next_line)
{
    int peer;
    cio_stream_opts o = opts_limit(8);
    cio_stream *s = raw_pair(&peer, &o);
    char buf[64];
    /* Newline beyond the scan (not found) and newline found but late. */
    fd_write_str(peer, "0123456789ABCDEF\nnext\n123456789\nok\ntoolongline\nfine\n");
    EXPECT_ERR(cio_readline(s, buf, sizeof(buf)), CIO_ELIMIT);
    EXPECT_BYTES(cio_readline(s, buf, sizeof(buf)), buf, "next\n");
    EXPECT_ERR(cio_readline(s, buf, sizeof(buf)), CIO_ELIMIT);
    EXPECT_BYTES(cio_readline(s, buf, sizeof(buf)), buf, "ok\n");
    EXPECT_ERR(cio_readline(s, buf, sizeof(buf)), CIO_ELIMIT);
    EXPECT_BYTES(cio_readline(s, buf, sizeof(buf)), buf, "fine\n");
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(readline, overlong_line_resyncs_when_its_newline_arrives_later)
{
    int peer;
    cio_stream_opts o = opts_limit(8);
    cio_stream *s = raw_pair(&peer, &o);
    char buf[64];
    fd_write_str(peer, "0123456789ABCDEF");
    /* The error comes at once, without waiting for the newline or EOF. */
    EXPECT_ERR(cio_readline(s, buf, sizeof(buf)), CIO_ELIMIT);
    op r = {.s = s, .kind = OP_READLINE};
    cio_task *t = op_spawn_blocked(&r);
    fd_write_str(peer, "GHIJ");
    YIELD_UNTIL(fd_pending(cio_stream_fd(s)) == 0 && s->reader == t);
    fd_write_str(peer, "KL\nne");
    YIELD_UNTIL(fd_pending(cio_stream_fd(s)) == 0 && s->reader == t);
    fd_write_str(peer, "xt\nafter\n");
    op_join(t);
    OP_EXPECT(&r, "next\n");
    EXPECT_BYTES(cio_readline(s, buf, sizeof(buf)), buf, "after\n");
    stream_drop(s);
    close(peer);
    return 0;
}

STREAM_TEST(readline, overlong_partial_line_at_eof_is_ELIMIT_then_eof)
{
    int peer;
    cio_stream_opts o = opts_limit(4);
    cio_stream *s = raw_pair(&peer, &o);
    char buf[64];
    fd_write_str(peer, "abcdefgh");
    shutdown(peer, SHUT_WR);
    EXPECT_ERR(cio_readline(s, buf, sizeof(buf)), CIO_ELIMIT);
    EXPECT_ERR(cio_readline(s, buf, sizeof(buf)), 0);
    stream_drop(s);
    close(peer);

    /* EOF after the error, while the rest of the line is being skipped. */
    s = raw_pair(&peer, &o);
    fd_write_str(peer, "abcdefgh");
    EXPECT_ERR(cio_readline(s, buf, sizeof(buf)), CIO_ELIMIT);
    fd_write_str(peer, "ijk");
    shutdown(peer, SHUT_WR);
    EXPECT_ERR(cio_readline(s, buf, sizeof(buf)), 0);
    cr_assert(cio_at_eof(s));
    stream_drop(s);
    close(peer);
    return 0;
}

/* ---- at_eof ------------------------------------------------------------------------------- */

STREAM_TEST(at_eof, true_only_after_eof_received_and_buffer_empty)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[8];
    cr_assert(!cio_at_eof(s), "fresh stream");
    fd_write_str(peer, "ab");
    shutdown(peer, SHUT_WR);
    cr_assert(!cio_at_eof(s), "EOF sent but not yet received");
    EXPECT_BYTES(cio_read(s, buf, 1), buf, "a");
    cr_assert(!cio_at_eof(s), "one byte buffered");
    /* Receives EOF, leaves "b" buffered. */
    EXPECT_ERR(cio_readuntil(s, "|", 1, buf, sizeof(buf)), CIO_EINCOMPLETE);
    cr_assert_eq(cio_stream_buffered(s), 1);
    cr_assert(!cio_at_eof(s), "EOF received but the buffer is not empty");
    EXPECT_BYTES(cio_read(s, buf, sizeof(buf)), buf, "b");
    cr_assert(cio_at_eof(s), "EOF received and buffer empty");
    stream_drop(s);
    close(peer);
    return 0;
}

/* ---- one reader --------------------------------------------------------------------------- */

STREAM_TEST(one_reader, a_second_reader_that_must_wait_gets_EBUSY_and_the_first_keeps_its_data)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[64];
    fd_write_str(peer, "par");
    op a = {.s = s, .kind = OP_READLINE};
    cio_task *t = op_spawn_blocked(&a);
    YIELD_UNTIL(cio_stream_buffered(s) == 3 && s->reader == t);
    EXPECT_ERR(cio_readline(s, buf, sizeof(buf)), -EBUSY);
    EXPECT_ERR(cio_readexactly(s, buf, 10, NULL), -EBUSY);
    EXPECT_ERR(cio_readuntil(s, "|", 1, buf, sizeof(buf)), -EBUSY);
    char *all = NULL;
    size_t len = 0;
    EXPECT_ERR(cio_read_all(s, &all, &len), -EBUSY);
    cr_assert_null(all);
    cr_assert_eq(cio_stream_buffered(s), 3, "the second reader took nothing");
    cr_assert_eq(s->reader, t, "the first reader is still the one waiting");
    fd_write_str(peer, "tial\n");
    op_join(t);
    OP_EXPECT(&a, "partial\n");

    /* With nothing buffered, read(n) must wait too. */
    a = (op){.s = s, .kind = OP_READ, .n = 16};
    t = op_spawn_blocked(&a);
    EXPECT_ERR(cio_read(s, buf, sizeof(buf)), -EBUSY);
    EXPECT_ERR(cio_read(s, buf, 8192), -EBUSY);
    fd_write_str(peer, "z\n");
    op_join(t);
    OP_EXPECT(&a, "z\n");
    /* Once the first reader is done, anyone may read. */
    fd_write_str(peer, "y\n");
    EXPECT_BYTES(cio_readline(s, buf, sizeof(buf)), buf, "y\n");
    stream_drop(s);
    close(peer);
    return 0;
}

/* ---- cancellation and timeouts lose no byte ------------------------------------------------ */

/* Run o until it is parked with `gathered` bytes pulled into the stream
 * buffer, interrupt it (cancel, or let its timeout expire), and check
 * that it failed with the interrupt error. */
static void interrupt_op(op *o, bool by_timeout, size_t gathered)
{
    if (by_timeout)
        o->timeout = 0.2;
    cio_task *t = op_spawn_blocked(o);
    YIELD_UNTIL(cio_stream_buffered(o->s) == gathered && o->s->reader == t);
    cr_assert(!cio_task_done(t));
    if (!by_timeout)
        cr_assert(cio_cancel(t));
    op_join(t);
    EXPECT_ERR(o->rc, by_timeout ? -ETIMEDOUT : -ECANCELED);
    if (by_timeout)
        cr_assert(o->expired);
    cr_assert_null(o->s->reader, "the interrupted reader is still registered");
    cr_assert_eq(cio_stream_buffered(o->s), gathered, "the interrupted call consumed bytes");
}

/* The tests interrupt.cancelled_<what>_loses_no_byte and
 * interrupt.timed_out_<what>_loses_no_byte: <what>_loses_nothing(by_timeout)
 * without and with a timeout. */
#define LOSES_NO_BYTE_TESTS(what)                                                                  \
    STREAM_TEST(interrupt, cancelled_##what##_loses_no_byte)                                       \
    {                                                                                              \
        what##_loses_nothing(false);                                                               \
        return 0;                                                                                  \
    }                                                                                              \
    STREAM_TEST(interrupt, timed_out_##what##_loses_no_byte)                                       \
    {                                                                                              \
        what##_loses_nothing(true);                                                                \
        return 0;                                                                                  \
    }

static void read_loses_nothing(bool by_timeout)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[16];
    op o = {.s = s, .kind = OP_READ, .n = 16};
    interrupt_op(&o, by_timeout, 0);
    fd_write_str(peer, "xyz");
    EXPECT_BYTES(cio_read(s, buf, sizeof(buf)), buf, "xyz");
    /* Both read paths: into the stream buffer, and straight into the
     * caller's buffer for large reads. */
    o = (op){.s = s, .kind = OP_READ, .n = 8192};
    interrupt_op(&o, by_timeout, 0);
    fd_write_str(peer, "big");
    EXPECT_BYTES(cio_read(s, buf, sizeof(buf)), buf, "big");

    /* Data and the cancellation in the same loop iteration: whatever the
     * cancelled call did not return, the next read does. */
    for (size_t n = 16; !by_timeout && n <= 8192; n *= 512) {
        o = (op){.s = s, .kind = OP_READ, .n = n};
        cio_task *t = op_spawn_blocked(&o);
        fd_write_str(peer, "racy");
        cio_cancel(t);
        op_join(t);
        char got[8192] = {0};
        size_t have = 0;
        if (o.rc > 0) {
            memcpy(got, o.buf, (size_t)o.rc);
            have = (size_t)o.rc;
        } else {
            EXPECT_ERR(o.rc, -ECANCELED);
        }
        while (have < 4) {
            ssize_t r = cio_read(s, got + have, sizeof(got) - have);
            cr_assert_gt(r, 0);
            have += (size_t)r;
        }
        cr_assert_eq(have, 4);
        cr_assert(memcmp(got, "racy", 4) == 0, "got \"%.4s\"", got);
    }
    stream_drop(s);
    close(peer);
}

LOSES_NO_BYTE_TESTS(read)

static void readexactly_loses_nothing(bool by_timeout)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[16];
    fd_write_str(peer, "abc");
    op o = {.s = s, .kind = OP_READEXACTLY, .n = 10};
    interrupt_op(&o, by_timeout, 3);
    cr_assert_eq(o.partial, 0);
    fd_write_str(peer, "defghij");
    EXPECT_BYTES(cio_readexactly(s, buf, 10, NULL), buf, "abcdefghij");
    stream_drop(s);
    close(peer);
}

LOSES_NO_BYTE_TESTS(readexactly)

static void readuntil_loses_nothing(bool by_timeout)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[16];
    fd_write_str(peer, "ab-");
    op o = {.s = s, .kind = OP_READUNTIL, .sep = "--", .seplen = 2};
    interrupt_op(&o, by_timeout, 3);
    fd_write_str(peer, "-cd");
    EXPECT_BYTES(cio_readuntil(s, "--", 2, buf, sizeof(buf)), buf, "ab--");
    EXPECT_BYTES(cio_read(s, buf, sizeof(buf)), buf, "cd");
    /* A set of separators too. */
    struct iovec seps[2] = {{"<>", 2}, {"!", 1}};
    fd_write_str(peer, "xy<");
    o = (op){.s = s, .kind = OP_READUNTIL_ANY, .seps = seps, .nseps = 2};
    interrupt_op(&o, by_timeout, 3);
    fd_write_str(peer, ">z");
    EXPECT_BYTES(cio_readuntil_any(s, seps, 2, buf, sizeof(buf)), buf, "xy<>");
    stream_drop(s);
    close(peer);
}

LOSES_NO_BYTE_TESTS(readuntil)

static void readline_loses_nothing(bool by_timeout)
{
    int peer;
    cio_stream_opts lim = opts_limit(8);
    cio_stream *s = raw_pair(&peer, &lim);
    char buf[16];
    fd_write_str(peer, "abc");
    op o = {.s = s, .kind = OP_READLINE};
    interrupt_op(&o, by_timeout, 3);
    fd_write_str(peer, "def\n");
    EXPECT_BYTES(cio_readline(s, buf, sizeof(buf)), buf, "abcdef\n");

    /* Interrupted while skipping the rest of an over-long line: the
     * skipping goes on, and the next line is intact. */
    fd_write_str(peer, "0123456789");
    EXPECT_ERR(cio_readline(s, buf, sizeof(buf)), CIO_ELIMIT);
    o = (op){.s = s, .kind = OP_READLINE};
    interrupt_op(&o, by_timeout, 0);
    fd_write_str(peer, "tail\nnext\n");
    EXPECT_BYTES(cio_readline(s, buf, sizeof(buf)), buf, "next\n");
    stream_drop(s);
    close(peer);
}

LOSES_NO_BYTE_TESTS(readline)

static void read_all_loses_nothing(bool by_timeout)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    fd_write_str(peer, "abc");
    op o = {.s = s, .kind = OP_READ_ALL};
    interrupt_op(&o, by_timeout, 3); /* parked with "abc" gathered */
    cr_assert_null(o.all);
    cr_assert_eq(o.all_len, 0);
    cr_assert_eq(cio_stream_buffered(s), 3);
    fd_write_str(peer, "def");
    shutdown(peer, SHUT_WR);
    char *all = NULL;
    size_t len = 0;
    EXPECT_ERR(cio_read_all(s, &all, &len), 6);
    cr_assert(memcmp(all, "abcdef", 6) == 0);
    free(all);
    stream_drop(s);
    close(peer);
}

LOSES_NO_BYTE_TESTS(read_all)

/* ---- bytes received before a reset ------------------------------------------------------------
 */

STREAM_TEST(reset, bytes_received_before_a_reset_are_readable_then_ECONNRESET)
{
    int peer;
    cio_stream *s = tcp_raw_pair(&peer, NULL);
    char buf[64];
    fd_write_str(peer, "hello world");
    fd_rst_close(peer);
    EXPECT_BYTES(cio_read(s, buf, sizeof(buf)), buf, "hello world");
    EXPECT_ERR(cio_read(s, buf, sizeof(buf)), -ECONNRESET);
    EXPECT_ERR(cio_read(s, buf, sizeof(buf)), -ECONNRESET);
    cr_assert(cio_is_closing(s), "a reset is a fatal error");
    EXPECT_ERR(cio_wait_closed(s), -ECONNRESET);
    stream_drop(s);
    return 0;
}

STREAM_TEST(reset, lines_received_before_a_reset_are_readable_then_ECONNRESET)
{
    int peer;
    cio_stream *s = tcp_raw_pair(&peer, NULL);
    char buf[64];
    fd_write_str(peer, "l1\nl2\n0123456789part");
    fd_rst_close(peer);
    EXPECT_BYTES(cio_readline(s, buf, sizeof(buf)), buf, "l1\n");
    EXPECT_BYTES(cio_readline(s, buf, sizeof(buf)), buf, "l2\n");
    EXPECT_BYTES(cio_readexactly(s, buf, 4, NULL), buf, "0123");
    /* 10 bytes left, not enough for 11: the error, and the bytes stay. */
    EXPECT_ERR(cio_readexactly(s, buf, 11, NULL), -ECONNRESET);
    EXPECT_ERR(cio_readline(s, buf, sizeof(buf)), -ECONNRESET);
    EXPECT_BYTES(cio_read(s, buf, sizeof(buf)), buf, "456789part");
    EXPECT_ERR(cio_read(s, buf, sizeof(buf)), -ECONNRESET);
    stream_drop(s);
    return 0;
}

STREAM_TEST(reset, a_waiting_reader_gets_ECONNRESET_after_the_bytes)
{
    int peer;
    cio_stream *s = tcp_raw_pair(&peer, NULL);
    char buf[64];
    fd_write_str(peer, "abc");
    op o = {.s = s, .kind = OP_READLINE, .timeout = 5};
    cio_task *t = op_spawn_blocked(&o);
    YIELD_UNTIL(cio_stream_buffered(s) == 3 && s->reader == t);
    fd_write_str(peer, "def");
    fd_rst_close(peer);
    op_join(t);
    EXPECT_ERR(o.rc, -ECONNRESET);
    EXPECT_BYTES(cio_read(s, buf, sizeof(buf)), buf, "abcdef");
    EXPECT_ERR(cio_read(s, buf, sizeof(buf)), -ECONNRESET);
    stream_drop(s);
    return 0;
}

STREAM_TEST(reset, unix_peer_closing_with_unread_data_bytes_then_ECONNRESET)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    char buf[64];
    cr_assert_eq(cio_write(s, "unread", 6), 0);
    fd_write_str(peer, "bye");
    close(peer); /* with "unread" still in its queue: a reset */
    EXPECT_BYTES(cio_read(s, buf, sizeof(buf)), buf, "bye");
    EXPECT_ERR(cio_read(s, buf, sizeof(buf)), -ECONNRESET);
    stream_drop(s);
    return 0;
}

STREAM_TEST(reset, reset_seen_first_by_a_write_still_ends_reads_with_the_error)
{
    int peer;
    cio_stream *s = tcp_raw_pair(&peer, NULL);
    char buf[64];
    fd_write_str(peer, "data");
    fd_rst_close(peer);
    int w = cio_write(s, "x", 1);
    cr_assert(w == -ECONNRESET || w == -EPIPE, "write after a reset: %s", cio_err_name(w));
    EXPECT_BYTES(cio_read(s, buf, sizeof(buf)), buf, "data");
    EXPECT_ERR(cio_read(s, buf, sizeof(buf)), -ECONNRESET); /* after the bytes: not EOF */
    stream_drop(s);
    return 0;
}
