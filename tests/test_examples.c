/* The examples in examples/, run as the programs they are: each is spawned
 * from CIO_TEST_BINARY_DIR/examples/, driven through its command line, its
 * stdout and the network (cio clients; plain nc for the chat), and a
 * server is stopped with SIGTERM and must exit 0 (under the sanitizers, a
 * leak makes that fail too).
 *
 * Every wait is bounded (STEP seconds per step), and every child is killed
 * and reaped in the fixture's teardown even when an assertion fails; a
 * child also dies with the test process (PR_SET_PDEATHSIG). */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio.h"

#define STEP 5.0 /* seconds: the bound of any single step */
#include "proc_helpers.h"

static const char *port_str(uint16_t port)
{
    static char bufs[4][8];
    static int i;
    char *b = bufs[i++ % 4];
    snprintf(b, sizeof(bufs[0]), "%u", (unsigned)port);
    return b;
}

/* ---- cio clients (run in tasks) --------------------------------------------- */

/* The next line from s, without its newline, within STEP seconds. */
static const char *s_line(cio_stream *s)
{
    static char line[2048];
    cio_timeout t;
    cio_timeout_enter(&t, STEP);
    ssize_t n = cio_readline(s, line, sizeof(line) - 1);
    cio_timeout_exit(&t);
    cr_assert_gt(n, 0, "readline: %s", n ? cio_strerror((int)n) : "EOF");
    n -= line[n - 1] == '\n';
    line[n] = '\0';
    return line;
}

static void s_expect(cio_stream *s, const char *want)
{
    const char *got = s_line(s);
    cr_assert_str_eq(got, want);
}

/* Reads on s end (EOF or err) within STEP seconds; returns the end. */
static ssize_t s_end_(cio_stream *s, int line)
{
    char buf[4096];
    ssize_t n;
    cio_timeout t;
    cio_timeout_enter(&t, STEP);
    while ((n = cio_read(s, buf, sizeof(buf))) > 0)
        ;
    cio_timeout_exit(&t);
    cr_assert_neq(n, -ETIMEDOUT, "line %d: the stream did not end in %g s", line, STEP);
    return n;
}
#define s_end(s) s_end_(s, __LINE__)

static void s_send(cio_stream *s, const char *text)
{
    cio_timeout t;
    cio_timeout_enter(&t, STEP);
    int rc = cio_write(s, text, strlen(text));
    if (rc == 0)
        rc = cio_drain(s);
    cio_timeout_exit(&t);
    cr_assert_eq(rc, 0, "send: %s", cio_strerror(rc));
}

static void s_free(cio_stream *s)
{
    cio_close(s);
    cio_wait_closed(s);
    cio_stream_release(s);
}

static cio_stream *s_connect(uint16_t port)
{
    cio_stream *s;
    int rc = cio_open_connection(&s, "127.0.0.1", port, NULL);
    cr_assert_eq(rc, 0, "connect: %s", cio_strerror(rc));
    return s;
}

/* ---- --help and usage errors ---------------------------------------------------- */

Test(examples, help_and_bad_usage, .fini = proc_teardown, .timeout = 60)
{
    static const char *const names[] = {"echo_server", "echo_client", "wait_for_data",
                                        "chat_server", "timeouts",    "pipeline"};
    static struct result r;
    char path[256], want[64];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/examples/%s", CIO_TEST_BINARY_DIR, names[i]);
        run((char *[]){path, "--help", NULL}, &r);
        assert_exit(&r, 0);
        snprintf(want, sizeof(want), "usage: %s ", names[i]);
        cr_assert_eq(strncmp(r.out, want, strlen(want)), 0, "%s --help: %s", names[i], r.out);
        cr_assert(strstr(r.out, "--help"), "%s --help: %s", names[i], r.out);
        run((char *[]){path, "--no-such-option", NULL}, &r);
        assert_exit(&r, 2);
        assert_one_line(&r, "--no-such-option");
    }
}

/* ---- echo_server / echo_client --------------------------------------------------- */

/* 1 MiB through the echo server: the client writes it all (cio_write
 * queues what the socket does not take) and reads it back meanwhile. */
static intptr_t big_echo(void *arg)
{
    enum { SIZE = 1 << 20 };
    cio_stream *s = s_connect(*(uint16_t *)arg);
    char *out = malloc(SIZE), *in = malloc(SIZE);
    cr_assert(out && in);
    for (size_t i = 0; i < SIZE; i++)
        out[i] = (char)('a' + i % 23);
    cr_assert_eq(cio_write(s, out, SIZE), 0);
    cio_timeout t;
    cio_timeout_enter(&t, STEP);
    ssize_t n = cio_readexactly(s, in, SIZE, NULL);
    cio_timeout_exit(&t);
    cr_assert_eq(n, SIZE, "readexactly: %s", cio_strerror((int)n));
    cr_assert_eq(memcmp(in, out, SIZE), 0);
    free(out);
    free(in);
    s_free(s);
    return 0;
}

/* A file for a server's stderr, and the check that debug mode (--debug)
 * found no stream left open in it when the server's loop closed. */
static int debug_log(const char *name)
{
    int fd = open(in_tmp(name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0);
    return fd;
}

static void assert_no_unclosed_streams(const char *name, int fd)
{
    close(fd);
    char log[8192] = "";
    FILE *f = fopen(in_tmp(name), "r");
    cr_assert_not_null(f);
    size_t n = fread(log, 1, sizeof(log) - 1, f);
    log[n] = '\0';
    fclose(f);
    cr_assert_null(strstr(log, "cio warning"), "%s stderr:\n%s", name, log);
}

Test(examples, echo_server_and_client, .fini = proc_teardown, .timeout = 60)
{
    static child srv;
    static struct result r;
    int err = debug_log("echo_server.err");
    uint16_t port =
        server_start_err(&srv, (char *[]){EX("echo_server"), "--debug", "--port", "0", NULL}, err);
    run((char *[]){EX("echo_client"), "--debug", "--port", (char *)port_str(port), "hello,",
                   "world", NULL},
        &r);
    assert_exit(&r, 0);
    cr_assert_null(strstr(r.err, "cio warning"), "client stderr:\n%s", r.err);
    cr_assert_str_eq(r.out, "hello, world\n");
    const char *line = child_line(&srv);
    cr_assert(strncmp(line, "connection from 127.0.0.1:", 26) == 0, "server: %s", line);
    line = child_line(&srv);
    cr_assert(strstr(line, ": closed by the client"), "server: %s", line);

    cr_assert_eq(cio_run(big_echo, &port), 0);
    server_stop(&srv, SIGTERM);
    cr_assert(strstr(srv.log, "shutting down"), "server:\n%s", srv.log);
    assert_no_unclosed_streams("echo_server.err", err);
}

/* --lines: line by line; an over-long line is answered with an error and
 * the next line is echoed as usual; a last line without a newline too. */
static intptr_t line_echo(void *arg)
{
    cio_stream *s = s_connect(*(uint16_t *)arg);
    char longline[300];
    memset(longline, 'x', sizeof(longline) - 1);
    longline[sizeof(longline) - 1] = '\0';
    s_send(s, "first\n");
    s_send(s, longline);
    s_send(s, "\nnext\ntail");
    cr_assert_eq(cio_write_eof(s), 0);
    s_expect(s, "first");
    s_expect(s, "error: line too long");
    s_expect(s, "next");
    s_expect(s, "tail");
    cr_assert_eq(s_end(s), 0);
    s_free(s);
    return 0;
}

Test(examples, echo_lines, .fini = proc_teardown, .timeout = 60)
{
    static child srv;
    static struct result r;
    uint16_t port = server_start(
        &srv, (char *[]){EX("echo_server"), "--lines", "--max-line", "100", "--port", "0", NULL});
    run((char *[]){EX("echo_client"), "--lines", "--port", (char *)port_str(port), "one",
                   "two words", NULL},
        &r);
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "one\ntwo words\n");
    cr_assert_eq(cio_run(line_echo, &port), 0);
    server_stop(&srv, SIGINT);
}

Test(examples, echo_tls, .fini = proc_teardown, .timeout = 60)
{
    static child srv;
    static struct result r;
    make_cert("local", "localhost", "DNS:localhost,IP:127.0.0.1");
    char *cert = in_tmp("local.pem"), *key = in_tmp("local.key");
    uint16_t port = server_start(&srv, (char *[]){EX("echo_server"), "--tls-cert", cert,
                                                  "--tls-key", key, "--port", "0", NULL});
    run((char *[]){EX("echo_client"), "--tls", "--cafile", cert, "--port", (char *)port_str(port),
                   "over TLS", NULL},
        &r);
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "over TLS\n");
    /* Without --cafile the self-signed certificate is not trusted. */
    run((char *[]){EX("echo_client"), "--tls", "--port", (char *)port_str(port), "x", NULL}, &r);
    assert_exit(&r, 1);
    assert_one_line(&r, "certificate");
    server_stop(&srv, SIGTERM);
}

Test(examples, echo_client_failures, .fini = proc_teardown, .timeout = 60)
{
    static struct result r;
    uint16_t port;
    int fd = loopback_socket(false, &port); /* bound, not listening: refused */
    run((char *[]){EX("echo_client"), "--port", (char *)port_str(port), "x", NULL}, &r);
    assert_exit(&r, 1);
    assert_one_line(&r, "Connection refused");
    close(fd);

    fd = loopback_socket(true, &port); /* connects, never answers */
    run((char *[]){EX("echo_client"), "--timeout", "0.3", "--port", (char *)port_str(port), "x",
                   NULL},
        &r);
    assert_exit(&r, 1);
    assert_one_line(&r, "timed out");
    close(fd);

    run((char *[]){EX("echo_client"), "x", NULL}, &r);
    assert_exit(&r, 2);
    assert_one_line(&r, "--port");
}

struct idle_args {
    uint16_t port;
    pid_t server;
};

/* A silent client is dropped after the idle timeout. */
static intptr_t idle_client(void *arg)
{
    struct idle_args *a = arg;
    cio_stream *s = s_connect(a->port);
    double t0 = cio_time();
    cr_assert_eq(s_end(s), 0);
    cr_assert_geq(cio_time() - t0, 0.25, "dropped after %.3f s", cio_time() - t0);
    s_free(s);
    return 0;
}

/* A client connected during SIGTERM sees EOF: the server closes it. */
static intptr_t shutdown_client(void *arg)
{
    struct idle_args *a = arg;
    cio_stream *s = s_connect(a->port);
    s_send(s, "ping\n");
    s_expect(s, "ping");
    cr_assert_eq(kill(a->server, SIGTERM), 0);
    cr_assert_eq(s_end(s), 0);
    s_free(s);
    return 0;
}

Test(examples, echo_idle_timeout_and_graceful_shutdown, .fini = proc_teardown, .timeout = 60)
{
    static child srv;
    struct idle_args a;
    a.port = server_start(
        &srv, (char *[]){EX("echo_server"), "--idle-timeout", "0.3", "--port", "0", NULL});
    cr_assert_eq(cio_run(idle_client, &a), 0);
    child_line(&srv); /* connection from */
    const char *line = child_line(&srv);
    cr_assert(strstr(line, "idle for 0.3 s, closing"), "server: %s", line);
    server_stop(&srv, SIGTERM);

    a.port = server_start(&srv, (char *[]){EX("echo_server"), "--port", "0", NULL});
    a.server = srv.pid;
    cr_assert_eq(cio_run(shutdown_client, &a), 0);
    assert_status(child_wait(&srv), 0, srv.log);
    cr_assert(strstr(srv.log, "closed by the server"), "server:\n%s", srv.log);
}

/* ---- wait_for_data, timeouts, pipeline --------------------------------------------- */

Test(examples, wait_for_data, .fini = proc_teardown, .timeout = 60)
{
    static struct result r;
    run((char *[]){EX("wait_for_data"), NULL}, &r);
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "Received: abc\n");
    run((char *[]){EX("wait_for_data"), "--message", "from the other end", NULL}, &r);
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "Received: from the other end\n");
}

Test(examples, timeouts, .fini = proc_teardown, .timeout = 60)
{
    static struct result r;
    run((char *[]){EX("timeouts"), "--timeout", "0.2", "--delay", "0.5", NULL}, &r);
    assert_exit(&r, 0);
    static const char *const want[] = {
        "step 1: connect #1: connected",
        "step 1: connect #2: wait_for(open_connection, 0.2): TimeoutError after ",
        "step 2: readline within 0.2 s: TimeoutError after ",
        "from this scope; nothing consumed",
        "step 2: readline within 2 s: \"hello\"",
        "step 3: readline within 2 s: TimeoutError after ",
        "from an outer scope",
        "step 3: the whole exchange overran its 0.2 s deadline",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        cr_assert(strstr(r.out, want[i]), "no \"%s\" in:\n%s", want[i], r.out);
}

Test(examples, pipeline, .fini = proc_teardown, .timeout = 60)
{
    static struct result r;
    run((char *[]){EX("pipeline"), "--producers", "3", "--consumers", "2", "--items", "20",
                   "--queue-size", "3", "--work", "0.001", NULL},
        &r);
    assert_exit(&r, 0);
    cr_assert(strstr(r.out, "60 items produced, 60 consumed exactly once, each producer's in "
                            "order\n"),
              "%s", r.out);
    cr_assert(strstr(r.out, "the queue never held more than 3 (maxsize 3)"), "%s", r.out);
    const char *w = strstr(r.out, "producers waited for room ");
    cr_assert(w && atoi(w + strlen("producers waited for room ")) > 0, "%s", r.out);
}

/* ---- chat_server ------------------------------------------------------------------ */

/* An nc client whose stdin and stdout are our end of a socketpair. */
static cio_stream *nc_start(uint16_t port)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    spawn((char *[]){"nc", "-N", "127.0.0.1", (char *)port_str(port), NULL}, sv[1], sv[1], -1);
    close(sv[1]);
    cio_stream *s;
    cr_assert_eq(cio_stream_from_fd(&s, sv[0], NULL), 0);
    return s;
}

/* A raw client socket; rcvbuf > 0 shrinks its receive buffer first. */
static int raw_connect(uint16_t port, int rcvbuf)
{
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    if (rcvbuf)
        cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0, "%s", strerror(errno));
    return fd;
}

struct chat_args {
    child *srv;
    uint16_t port;
};

enum { BATCH = 50, MAX_LINES = 20000 }; /* 18 MB: far more than kernel buffers hold */

/* a floods the room with numbered lines, BATCH at a time, and b must get
 * every one of them, in order and each within STEP seconds, until the
 * server reports `dropped`.  (In the outbox variant the drain timeout is
 * 30 s: had the server waited for the slow client, b would stall.) */
static void flood_until(cio_stream *a, cio_stream *b, const char *dropped)
{
    char pad[900], line[1024];
    memset(pad, 'x', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    bool seen = false;
    int sent = 0;
    while (!seen && sent < MAX_LINES) {
        for (int j = 0; j < BATCH; j++) {
            snprintf(line, sizeof(line), "%d %s\n", sent + j, pad);
            cr_assert_eq(cio_write(a, line, strlen(line)), 0);
        }
        s_send(a, ""); /* drain the batch */
        for (int j = 0; j < BATCH;) {
            const char *got = s_line(b);
            if (strcmp(got, dropped) == 0) {
                seen = true;
                continue;
            }
            snprintf(line, sizeof(line), "guest1: %d %s", sent + j, pad);
            cr_assert_str_eq(got, line);
            j++;
        }
        sent += BATCH;
    }
    cr_log_info("%d lines sent before \"%s\"", sent, dropped);
    if (!seen)
        s_expect(b, dropped); /* the drain timeout may strike later */
}

static intptr_t chat_main(void *arg)
{
    struct chat_args *ca = arg;
    cio_stream *a = nc_start(ca->port);
    s_expect(a, "* welcome, guest1; 1 online");
    cio_stream *b = nc_start(ca->port);
    s_expect(b, "* welcome, guest2; 2 online");
    s_expect(a, "* guest2 joined");

    /* guest3 never reads: the others keep chatting, and it is dropped. */
    int slow = raw_connect(ca->port, 4096);
    s_expect(a, "* guest3 joined");
    s_expect(b, "* guest3 joined");
    flood_until(a, b, "* guest3 was dropped (too slow)");
    s_expect(a, "* guest3 was dropped (too slow)");
    cio_stream *c;
    cr_assert_eq(cio_stream_from_fd(&c, slow, NULL), 0);
    ssize_t end = s_end(c);
    cr_assert(end == -ECONNRESET || end == 0, "slow client: %s", cio_strerror((int)end));
    cio_stream_release(c);

    /* guest4 resets its connection mid-line, with messages pending. */
    int rude = raw_connect(ca->port, 0);
    s_expect(a, "* guest4 joined");
    s_expect(b, "* guest4 joined");
    s_send(a, "to everyone\n");
    s_expect(b, "guest1: to everyone");
    cr_assert_eq(send(rude, "half a li", 9, MSG_NOSIGNAL), 9);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    cr_assert_eq(setsockopt(rude, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    close(rude);
    s_expect(a, "* guest4 left");
    s_expect(b, "* guest4 left");
    s_send(b, "still here\n");
    s_expect(a, "guest2: still here");

    /* Shutdown: both are told, then their connections end.  (nc keeps
     * its stdout open while its stdin is, whatever the server does: with
     * stdin at EOF it exits once the server has closed.) */
    cr_assert_eq(kill(ca->srv->pid, SIGTERM), 0);
    s_expect(a, "* server shutting down");
    s_expect(b, "* server shutting down");
    cr_assert_eq(cio_write_eof(a), 0);
    cr_assert_eq(cio_write_eof(b), 0);
    cr_assert_eq(s_end(a), 0);
    cr_assert_eq(s_end(b), 0);
    s_free(a);
    s_free(b);
    return 0;
}

/* The server's log names the way guest3 was dropped: `reason`. */
static void chat_scenario(const char *max_queue, const char *drain_timeout, const char *reason)
{
    if (!have("nc"))
        cr_skip_test("nc is not installed");
    static child srv;
    struct chat_args ca = {&srv, 0};
    int err = debug_log("chat_server.err");
    ca.port =
        server_start_err(&srv,
                         (char *[]){EX("chat_server"), "--debug", "--max-queue", (char *)max_queue,
                                    "--drain-timeout", (char *)drain_timeout, "--port", "0", NULL},
                         err);
    cr_assert_eq(cio_run(chat_main, &ca), 0);
    assert_status(child_wait(&srv), 0, srv.log);
    assert_no_unclosed_streams("chat_server.err", err);
    char want[64];
    snprintf(want, sizeof(want), "guest3 dropped: %s\n", reason);
    cr_assert(strstr(srv.log, want), "server:\n%s", srv.log);
    cr_assert(strstr(srv.log, "guest4 left: Connection reset by peer\n"), "server:\n%s", srv.log);
}

/* The slow client's outbox overflows first. */
Test(examples, chat_drops_a_client_whose_queue_overflows, .fini = proc_teardown, .timeout = 60)
{
    chat_scenario("16", "30", "outbox full");
}

/* The slow client's drain times out first. */
Test(examples, chat_drops_a_client_that_does_not_drain, .fini = proc_teardown, .timeout = 60)
{
    chat_scenario("100000", "0.3", "not reading");
}

static cio_stream *tls_connect(uint16_t port, const char *cafile)
{
    cio_tls_client_opts to = CIO_TLS_CLIENT_OPTS_INIT;
    to.cafile = cafile;
    cio_connect_opts co = CIO_CONNECT_OPTS_INIT;
    cr_assert_eq(cio_tls_client_ctx(&co.tls, &to), 0);
    cio_stream *s;
    cio_timeout t;
    cio_timeout_enter(&t, STEP);
    int rc = cio_open_connection(&s, "127.0.0.1", port, &co);
    cio_timeout_exit(&t);
    cio_tls_ctx_free(co.tls);
    cr_assert_eq(rc, 0, "TLS connect: %s (%s)", cio_strerror(rc), cio_tls_error_reason(NULL));
    return s;
}

struct chat_tls_args {
    uint16_t port;
    const char *cafile;
};

static intptr_t chat_tls_main(void *arg)
{
    struct chat_tls_args *a = arg;
    cio_stream *x = tls_connect(a->port, a->cafile);
    s_expect(x, "* welcome, guest1; 1 online");
    cio_stream *y = tls_connect(a->port, a->cafile);
    s_expect(y, "* welcome, guest2; 2 online");
    s_expect(x, "* guest2 joined");
    s_send(x, "over TLS\n");
    s_expect(y, "guest1: over TLS");
    s_free(x);
    s_expect(y, "* guest1 left");
    s_free(y);
    return 0;
}

Test(examples, chat_tls, .fini = proc_teardown, .timeout = 60)
{
    static child srv;
    make_cert("local", "localhost", "DNS:localhost,IP:127.0.0.1");
    char *cert = in_tmp("local.pem"), *key = in_tmp("local.key");
    struct chat_tls_args a = {0, cert};
    a.port = server_start(&srv, (char *[]){EX("chat_server"), "--tls-cert", cert, "--tls-key", key,
                                           "--port", "0", NULL});
    cr_assert_eq(cio_run(chat_tls_main, &a), 0);
    server_stop(&srv, SIGTERM);
}
