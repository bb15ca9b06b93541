/* End to end: both ends of every connection made by cio's public API —
 * cio_open_connection / cio_open_unix_connection against cio_start_server /
 * cio_start_unix_server (and a socketpair adopted by cio_stream_from_fd
 * talking to a server's handler).  Echo over IPv4, IPv6 and Unix sockets;
 * a 256 MiB hashed transfer into a slow reader with flow control checked
 * at every write; half-close in both directions; resets while reading and
 * while draining; interrupted reads and drains over TCP losing nothing.
 *
 * The reader/writer details (limits, separators, water marks) are
 * covered over socketpairs in test_stream_*.c, the server's lifetimes in
 * test_server.c and connecting in test_connect.c; these tests are about
 * the pieces working together over real sockets. */
#include "e2e_helpers.h"

TestSuite(e2e, .timeout = 90);

/* ---- echo ------------------------------------------------------------------------------------ */

enum { ECHO_BULK = 4 << 20 };

static void echo_case(enum e2e_kind kind)
{
    struct e2e_echo st = {0};
    e2e_server es;
    e2e_listen(&es, kind, e2e_echo_handler, &st, NULL);
    cio_stream *c = e2e_connect(&es, NULL);
    struct sockaddr_storage peer, self;
    socklen_t plen = sizeof(peer), slen = sizeof(self);
    ASSERT_OK(cio_stream_peername(c, (struct sockaddr *)&peer, &plen));
    ASSERT_OK(cio_stream_sockname(c, (struct sockaddr *)&self, &slen));
    cr_assert_eq(peer.ss_family, e2e_family(kind));
    cr_assert_eq(self.ss_family, e2e_family(kind));
    e2e_exercise_echo(c, ECHO_BULK);
    e2e_echo_wait_ended(&st, 1);
    cr_assert_eq(st.conns, 1);
    cr_assert_eq(st.last, 0, "the handler's last read: %s", cio_err_name((int)st.last));
    e2e_server_done(&es);
}

E2E_TEST(e2e, echo_tcp_ipv4)
{
    echo_case(E2E_TCP4);
    return 0;
}

E2E_TEST_IF(e2e, echo_tcp_ipv6, have_ipv6_loopback(), "no ::1 on this machine")
{
    echo_case(E2E_TCP6);
    return 0;
}

E2E_TEST(e2e, echo_unix)
{
    echo_case(E2E_UNIX);
    return 0;
}

struct handler_call {
    cio_stream *s;
    struct e2e_echo *st;
};

static intptr_t handler_task(void *arg)
{
    struct handler_call *hc = arg;
    e2e_echo_handler(hc->s, hc->st);
    stream_finish(hc->s, 0);
    return 0;
}

/* asyncio.open_connection(sock=...): an adopted socketpair end talks to
 * the same handler a server would run. */
E2E_TEST(e2e, echo_socketpair_adopted_by_stream_from_fd)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    struct e2e_echo st = {0};
    struct handler_call hc = {.s = stream_on(sv[1], NULL), .st = &st};
    cio_task *t = t_spawn(handler_task, &hc);
    e2e_exercise_echo(stream_on(sv[0], NULL), ECHO_BULK);
    cr_assert_eq(t_join(t), 0);
    cr_assert_eq(st.last, 0);
    return 0;
}

/* ---- bulk transfer with flow control --------------------------------------------------------- */

/* 256 MiB; 32 MiB under the sanitizers, which make every byte slower. */
#if TEST_ASAN || defined(CIO_SANITIZE)
#define BULK_BYTES ((size_t)32 << 20)
#else
#define BULK_BYTES ((size_t)256 << 20)
#endif

/* The client writes `bytes` in 64 KiB writes, each followed by drain
 * (e2e_source: the queue bound is checked at every write); the accepted
 * end reads 64 KiB at a time and yields between reads, so the writer keeps
 * running ahead.  Small kernel buffers on both ends make the cio queue,
 * not the kernel, absorb the difference (loopback TCP otherwise buffers
 * megabytes and drain waits only now and then). */
static void bulk_case(enum e2e_kind kind, size_t bytes)
{
    cio_stream *c, *a;
    e2e_pair(kind, &c, &a);
    int small = 65536;
    cr_assert_eq(setsockopt(cio_stream_fd(c), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    cr_assert_eq(setsockopt(cio_stream_fd(a), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    struct e2e_sink sink = {.s = a, .chunk = E2E_CHUNK, .yields = 3};
    struct e2e_source src = {.s = c, .bytes = bytes, .seed = 42};
    cio_task *reader = t_spawn(e2e_sink_task, &sink);
    e2e_source_task(&src);
    cr_assert_eq(t_join(reader), 0);
    e2e_expect_same(&src, &sink);
    /* A wait per MiB at least: far fewer than happen, far more than none. */
    cr_assert_geq(src.waited, bytes >> 20, "drain waited only %zu times (peak queue %zu)",
                  src.waited, src.peak);
    cr_log_info("bulk: %zu MiB, %zu drains waited, peak queue %zu", bytes >> 20, src.waited,
                src.peak);
    stream_finish(a, 0);
    stream_finish(c, 0);
}

E2E_TEST(e2e, bulk_tcp_into_a_slow_reader_hashed_with_flow_control)
{
    bulk_case(E2E_TCP4, BULK_BYTES);
    return 0;
}

E2E_TEST(e2e, bulk_unix_into_a_slow_reader_hashed_with_flow_control)
{
    bulk_case(E2E_UNIX, BULK_BYTES / 4);
    return 0;
}

/* ---- half-close ------------------------------------------------------------------------------ */

struct half {
    char *got; /* what the handler read up to EOF */
    size_t got_len;
    ssize_t read_rc;
    bool closing_at_eof; /* cio_is_closing when the handler saw EOF */
    cio_event done;
};

/* Answers only once the request is complete, i.e. after the client's EOF. */
static void reply_after_eof_handler(cio_stream *s, void *arg)
{
    struct half *h = arg;
    h->read_rc = cio_read_all(s, &h->got, &h->got_len);
    h->closing_at_eof = cio_is_closing(s);
    char reply[64];
    int n = snprintf(reply, sizeof(reply), "got %zu bytes\n", h->got_len);
    if (h->read_rc >= 0)
        cio_write(s, reply, (size_t)n);
    cio_event_set(&h->done);
}

E2E_TEST(e2e, write_eof_client_first_then_the_server_replies)
{
    struct half h = {0};
    e2e_server es;
    e2e_listen(&es, E2E_TCP4, reply_after_eof_handler, &h, NULL);
    cio_stream *c = e2e_connect(&es, NULL);
    enum { REQ = 300000 };
    char *req = pattern_new(REQ, 2), line[64];
    ASSERT_OK(cio_write(c, req, REQ));
    ASSERT_OK(cio_write_eof(c));
    cr_assert(!cio_is_closing(c), "write_eof made the stream closing");
    EXPECT_BYTES(cio_readline(c, line, sizeof(line)), line, "got 300000 bytes\n");
    EXPECT_ERR(cio_read(c, line, sizeof(line)), 0);
    ASSERT_OK(cio_event_wait(&h.done));
    EXPECT_ERR(h.read_rc, REQ);
    cr_assert(memcmp(h.got, req, REQ) == 0, "the request arrived altered");
    cr_assert(!h.closing_at_eof, "peer EOF made the server's stream closing");
    free(h.got);
    free(req);
    stream_finish(c, 0);
    e2e_server_done(&es);
    return 0;
}

/* Sends its greeting and EOF first, then reads the client's answer. */
static void greet_then_eof_handler(cio_stream *s, void *arg)
{
    struct half *h = arg;
    if (cio_write(s, "hello, then EOF\n", 16) == 0 && cio_write_eof(s) == 0) {
        h->read_rc = cio_read_all(s, &h->got, &h->got_len);
        h->closing_at_eof = cio_is_closing(s);
    }
    cio_event_set(&h->done);
}

E2E_TEST(e2e, write_eof_server_first_then_the_client_answers)
{
    struct half h = {0};
    e2e_server es;
    e2e_listen(&es, E2E_TCP4, greet_then_eof_handler, &h, NULL);
    cio_stream *c = e2e_connect(&es, NULL);
    char *greeting = NULL;
    size_t len = 0;
    EXPECT_ERR(cio_read_all(c, &greeting, &len), 16);
    cr_assert(memcmp(greeting, "hello, then EOF\n", 16) == 0);
    free(greeting);
    cr_assert(cio_at_eof(c));
    cr_assert(!cio_is_closing(c), "peer EOF made the client's stream closing");
    /* The client's half is still open: its answer arrives in full. */
    enum { ANSWER = 200000 };
    char *answer = pattern_new(ANSWER, 3);
    ASSERT_OK(cio_write(c, answer, ANSWER));
    ASSERT_OK(cio_write_eof(c));
    ASSERT_OK(cio_event_wait(&h.done));
    EXPECT_ERR(h.read_rc, ANSWER);
    cr_assert(memcmp(h.got, answer, ANSWER) == 0, "the answer arrived altered");
    cr_assert(!h.closing_at_eof);
    free(h.got);
    free(answer);
    stream_finish(c, 0);
    e2e_server_done(&es);
    return 0;
}

/* ---- resets ---------------------------------------------------------------------------------- */

E2E_TEST(e2e, reset_while_the_client_waits_in_readexactly)
{
    cio_stream *c, *a;
    e2e_pair(E2E_TCP4, &c, &a);
    char buf[64];
    op o = {.s = c, .kind = OP_READEXACTLY, .n = 100};
    cio_task *t = op_spawn_blocked(&o);
    ASSERT_OK(cio_write(a, "hello\npart", 10));
    YIELD_UNTIL(cio_stream_buffered(c) == 10 && c->reader == t);
    stream_reset(a);
    op_join(t);
    EXPECT_ERR(o.rc, -ECONNRESET);
    /* What arrived before the reset is still delivered, then the error. */
    EXPECT_BYTES(cio_readline(c, buf, sizeof(buf)), buf, "hello\n");
    EXPECT_BYTES(cio_read(c, buf, sizeof(buf)), buf, "part");
    EXPECT_ERR(cio_read(c, buf, sizeof(buf)), -ECONNRESET);
    cr_assert(cio_is_closing(c));
    EXPECT_ERR(cio_wait_closed(c), -ECONNRESET);
    cio_stream_release(c);
    cio_stream_release(a);
    return 0;
}

/* Write until the queue is above high water while the peer reads
 * nothing; returns the bytes written (all from gen). */
static size_t back_up(cio_stream *c, e2e_gen *gen, e2e_hash *sent)
{
    enum { PIECE = 1 << 20 };
    char *piece = malloc(PIECE);
    cr_assert_not_null(piece);
    size_t total = 0;
    for (int i = 0; i < 64 && cio_write_buffer_size(c) <= CIO_DEFAULT_HIGH_WATER; i++) {
        e2e_gen_fill(gen, piece, PIECE);
        e2e_hash_update(sent, piece, PIECE);
        ASSERT_OK(cio_write(c, piece, PIECE));
        total += PIECE;
    }
    free(piece);
    cr_assert_gt(cio_write_buffer_size(c), CIO_DEFAULT_HIGH_WATER, "the kernel took 64 MiB");
    return total;
}

E2E_TEST(e2e, reset_while_the_client_waits_in_drain)
{
    cio_stream *c, *a;
    e2e_pair(E2E_TCP4, &c, &a);
    e2e_gen gen = e2e_gen_new(7);
    e2e_hash sent = e2e_hash_new();
    back_up(c, &gen, &sent);
    op d = {.s = c, .kind = OP_DRAIN};
    cio_task *t = op_spawn_blocked(&d);
    stream_reset(a);
    op_join(t);
    cr_assert(d.rc == -ECONNRESET || d.rc == -EPIPE, "drain: %s", cio_err_name((int)d.rc));
    cr_assert_lt(d.elapsed, 1.0, "the reset took %.3f s to reach the drainer", d.elapsed);
    EXPECT_ERR(cio_write(c, "x", 1), d.rc);
    EXPECT_ERR(cio_wait_closed(c), d.rc);
    cio_stream_release(c);
    cio_stream_release(a);
    return 0;
}

/* ---- interrupted reads and drains over TCP --------------------------------------------------- */

/* A stream call in its own task inside a timeout scope that the test
 * expires when it chooses (cio_timeout_reschedule from another task), so
 * the timeout hits the call while it is parked, whatever the load. */
struct scoped_op {
    op o;
    cio_timeout scope;
    cio_task *t;
};

static intptr_t scoped_op_task(void *arg)
{
    struct scoped_op *so = arg;
    cio_timeout_enter(&so->scope, E2E_BOUND);
    so->o.rc = op_call(&so->o);
    so->o.expired = cio_timeout_exit(&so->scope);
    return 0;
}

/* Start so->o and wait until it is parked in the stream. */
static void scoped_op_start(struct scoped_op *so)
{
    cio_stream *s = so->o.s;
    so->t = t_spawn(scoped_op_task, so);
    if (so->o.kind == OP_DRAIN)
        YIELD_UNTIL(drainer_count(s) == 1);
    else
        YIELD_UNTIL(s->reader == so->t);
}

/* Cancel it or expire its scope; it must fail with that and only that. */
static void scoped_op_interrupt(struct scoped_op *so, bool by_timeout)
{
    if (by_timeout)
        cio_timeout_reschedule(&so->scope, 0);
    else
        cr_assert(cio_cancel(so->t));
    op_join(so->t);
    EXPECT_ERR(so->o.rc, by_timeout ? -ETIMEDOUT : -ECANCELED);
    cr_assert_eq(so->o.expired, by_timeout);
}

/* One blocking read interrupted while part of what it needs has arrived:
 * `first` is sent before the interruption and must then be buffered on top
 * of what already was; `rest` is sent after it (with EOF for read to EOF),
 * and the next call of the same kind must return exactly `want`.  With
 * rest NULL the step ends after the interruption. */
struct step {
    enum op_kind kind;
    size_t n;
    const char *first, *rest, *want;
};

static op step_op(cio_stream *c, const struct step *sp)
{
    return (op){.s = c, .kind = sp->kind, .n = sp->n, .sep = "\r\n", .seplen = 2};
}

static void interrupt_step(cio_stream *c, cio_stream *a, const struct step *sp, bool by_timeout)
{
    size_t first = strlen(sp->first), before = cio_stream_buffered(c);
    struct scoped_op so = {.o = step_op(c, sp)};
    scoped_op_start(&so);
    ASSERT_OK(cio_write(a, sp->first, first));
    YIELD_UNTIL(cio_stream_buffered(c) == before + first && c->reader == so.t);
    scoped_op_interrupt(&so, by_timeout);
    cr_assert_eq(cio_stream_buffered(c), before + first, "the interrupted call lost bytes");
    if (!sp->rest)
        return;
    ASSERT_OK(cio_write(a, sp->rest, strlen(sp->rest)));
    if (sp->kind == OP_READ_ALL)
        ASSERT_OK(cio_write_eof(a));
    op o = step_op(c, sp);
    op_task(&o);
    if (sp->kind == OP_READ_ALL) {
        cr_assert_eq(o.rc, (ssize_t)strlen(sp->want), "read_all: %zd", o.rc);
        cr_assert(memcmp(o.all, sp->want, o.all_len) == 0, "read_all: \"%.*s\"", (int)o.all_len,
                  o.all);
        free(o.all);
    } else {
        OP_EXPECT(&o, sp->want);
    }
}

E2E_TEST(e2e, interrupted_reads_over_tcp_lose_no_byte)
{
    static const struct step steps[] = {
        {OP_READ, 0, "", "r", "r"},
        {OP_READEXACTLY, 10, "012", "3456789", "0123456789"},
        {OP_READUNTIL, 0, "ab", "c\r\n", "abc\r\n"},
        {OP_READLINE, 0, "hal", "f\n", "half\n"},
    };
    cio_stream *c, *a;
    e2e_pair(E2E_TCP4, &c, &a);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        interrupt_step(c, a, &steps[i], false);
        interrupt_step(c, a, &steps[i], true);
    }
    /* Read to EOF last: cancelled with "tail-" buffered, timed out with
     * "tail-more-", then the call after EOF gets everything. */
    interrupt_step(c, a, &(struct step){OP_READ_ALL, 0, "tail-", NULL, NULL}, false);
    interrupt_step(c, a, &(struct step){OP_READ_ALL, 0, "more-", "end", "tail-more-end"}, true);
    stream_finish(a, 0);
    stream_finish(c, 0);
    return 0;
}

E2E_TEST(e2e, interrupted_drains_over_tcp_lose_no_byte)
{
    cio_stream *c, *a;
    e2e_pair(E2E_TCP4, &c, &a);
    e2e_gen gen = e2e_gen_new(9);
    e2e_hash sent = e2e_hash_new();
    size_t total = back_up(c, &gen, &sent);
    for (int by_timeout = 0; by_timeout < 2; by_timeout++) {
        struct scoped_op so = {.o = {.s = c, .kind = OP_DRAIN}};
        scoped_op_start(&so);
        scoped_op_interrupt(&so, by_timeout);
        cr_assert_eq(drainer_count(c), 0, "the interrupted drainer is still queued");
        cr_assert_gt(cio_write_buffer_size(c), CIO_DEFAULT_HIGH_WATER, "the queue was lost");
    }
    /* Now the peer reads: a drain completes and every byte arrives. */
    struct e2e_sink sink = {.s = a, .chunk = 1 << 20};
    cio_task *reader = t_spawn(e2e_sink_task, &sink);
    ASSERT_OK(cio_drain(c));
    ASSERT_OK(cio_write_eof(c));
    cr_assert_eq(t_join(reader), 0);
    EXPECT_ERR(sink.rc, 0);
    cr_assert_eq(sink.hash.n, total);
    cr_assert_eq(sink.hash.h, sent.h, "the bytes arrived altered");
    stream_finish(a, 0);
    stream_finish(c, 0);
    return 0;
}
