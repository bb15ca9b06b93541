/* The HTTP examples (hello_http, http_headers, fetch_many) and the demo
 * script, run as the programs they are from CIO_TEST_BINARY_DIR/examples/:
 * hello_http against curl, wrk and a raw socket client that sends what
 * curl never would; http_headers against hello_http over HTTP and HTTPS
 * (throwaway certificates from the openssl command) and against peers
 * that fail in each way it names; fetch_many against live, silent,
 * refused and unresolvable targets; examples/demo.sh end to end.
 *
 * Everything is on loopback with port 0.  Every wait is bounded (STEP),
 * every child is killed and reaped by the suite's teardown even when an
 * assertion fails, and dies with the test (PR_SET_PDEATHSIG).  The test
 * process itself uses plain blocking sockets with receive timeouts, so an
 * assertion never has to unwind a cio task. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STEP 10.0 /* seconds: the bound of any one step */
#include "proc_helpers.h"

TestSuite(http_examples, .fini = proc_teardown, .timeout = 90);

/* ---- servers ----------------------------------------------------------------------- */

/* Read what srv prints until `want` appears in it (within STEP). */
static void server_expect(child *srv, const char *want)
{
    double deadline = now() + STEP;
    while (!strstr(srv->log, want)) {
        cr_assert(srv->out >= 0, "server ended without printing \"%s\":\n%s", want, srv->log);
        cr_assert(child_read(srv, deadline), "server did not print \"%s\" in %g s:\n%s", want, STEP,
                  srv->log);
    }
}

/* A URL on 127.0.0.1 (static rotating buffers). */
static char *url(const char *scheme, const char *host, uint16_t port, const char *path)
{
    static char bufs[8][128];
    static int i;
    char *b = bufs[i++ % 8];
    snprintf(b, sizeof(bufs[0]), "%s://%s:%u%s", scheme, host, (unsigned)port, path);
    return b;
}

/* ---- a raw HTTP client -------------------------------------------------------------- */

struct conn {
    int fd;
    char buf[64 * 1024];
    size_t len;
};

struct response {
    int status;
    char head[8192];
    char body[4096];
};

static void c_open(struct conn *c, uint16_t port)
{
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    c->len = 0;
    cr_assert_geq(c->fd, 0);
    struct timeval tv = {.tv_sec = (time_t)STEP};
    cr_assert_eq(setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    cr_assert_eq(connect(c->fd, (struct sockaddr *)&a, sizeof(a)), 0, "%s", strerror(errno));
}

static void c_send(struct conn *c, const char *text)
{
    size_t len = strlen(text);
    cr_assert_eq(send(c->fd, text, len, MSG_NOSIGNAL), (ssize_t)len, "send: %s", strerror(errno));
}

/* Receive more into c->buf; the byte count, 0 at EOF. */
static ssize_t c_recv(struct conn *c)
{
    cr_assert_lt(c->len, sizeof(c->buf));
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    cr_assert_geq(n, 0, "recv: %s", strerror(errno));
    c->len += (size_t)n;
    return n;
}

static void c_consume(struct conn *c, void *to, size_t n, size_t cap)
{
    cr_assert_lt(n, cap, "response part too long");
    memcpy(to, c->buf, n);
    ((char *)to)[n] = '\0';
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* The next response head (an interim 1xx response has nothing more). */
static void c_response_no_body(struct conn *c, struct response *r)
{
    char *end;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
        cr_assert_gt(c_recv(c), 0, "EOF in a response head: %.*s", (int)c->len, c->buf);
    c_consume(c, r->head, (size_t)(end + 4 - c->buf), sizeof(r->head));
    cr_assert_eq(sscanf(r->head, "HTTP/1.1 %d ", &r->status), 1, "head: %s", r->head);
    r->body[0] = '\0';
}

/* The next response; a HEAD response has no body. */
static void c_response(struct conn *c, struct response *r, bool head_request)
{
    c_response_no_body(c, r);
    const char *cl = strstr(r->head, "\r\nContent-Length: ");
    cr_assert_not_null(cl, "no Content-Length: %s", r->head);
    size_t len = head_request ? 0 : strtoul(cl + 18, NULL, 10);
    while (c->len < len)
        cr_assert_gt(c_recv(c), 0, "EOF in a body");
    c_consume(c, r->body, len, sizeof(r->body));
}

static void c_expect(struct conn *c, const char *request, int status, const char *body)
{
    struct response r;
    if (request)
        c_send(c, request);
    c_response(c, &r, strncmp(request ? request : "", "HEAD ", 5) == 0);
    cr_assert_eq(r.status, status, "after %s: %s", request, r.head);
    cr_assert_str_eq(r.body, body, "after %s", request);
}

/* The server ends the connection (EOF) after what is already buffered. */
static void c_expect_eof(struct conn *c)
{
    cr_assert_eq(c->len, 0, "unexpected data: %.*s", (int)c->len, c->buf);
    cr_assert_eq(c_recv(c), 0, "unexpected data: %.*s", (int)c->len, c->buf);
    close(c->fd);
}

static void c_close(struct conn *c)
{
    close(c->fd);
}

/* One request on a fresh connection, answered with status and then
 * closed. */
static void refused_with(uint16_t port, const char *request, int status)
{
    struct conn c;
    struct response r;
    c_open(&c, port);
    c_send(&c, request);
    c_response(&c, &r, false);
    cr_assert_eq(r.status, status, "after %s: %s", request, r.head);
    cr_assert(strstr(r.head, "\r\nConnection: close\r\n"), "%s", r.head);
    c_expect_eof(&c);
}

/* ---- --help and usage --------------------------------------------------------------- */

Test(http_examples, help_and_bad_usage)
{
    static const char *const names[] = {"hello_http", "http_headers", "fetch_many"};
    static struct result r;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char path[256], want[64];
        snprintf(path, sizeof(path), "%s/examples/%s", CIO_TEST_BINARY_DIR, names[i]);
        run((char *[]){path, "--help", NULL}, &r);
        assert_exit(&r, 0);
        snprintf(want, sizeof(want), "usage: %s ", names[i]);
        cr_assert_eq(strncmp(r.out, want, strlen(want)), 0, "%s", r.out);
        cr_assert(strstr(r.out, "--help"), "%s", r.out);
        run((char *[]){path, "--no-such-option", NULL}, &r);
        assert_exit(&r, 2);
        assert_one_line(&r, "--no-such-option");
    }
    run((char *[]){EX("http_headers"), NULL}, &r);
    assert_exit(&r, 2);
    assert_one_line(&r, "no URL");
    run((char *[]){EX("http_headers"), "ftp://example.com/", NULL}, &r);
    assert_exit(&r, 2);
    assert_one_line(&r, "not an http:// or https:// URL");
    run((char *[]){EX("fetch_many"), "127.0.0.1", NULL}, &r);
    assert_exit(&r, 2);
    assert_one_line(&r, "missing :port");
}

/* ---- hello_http ---------------------------------------------------------------------- */

Test(http_examples, hello_http_with_curl)
{
    if (!have("curl"))
        cr_skip_test("curl is not installed");
    static child srv;
    static struct result r;
    uint16_t port = server_start(&srv, (char *[]){EX("hello_http"), "--port", "0", NULL});

    /* Keep-alive: two URLs on one command line share one connection. */
    run((char *[]){"curl", "-sv", url("http", "127.0.0.1", port, "/"),
                   url("http", "127.0.0.1", port, "/again"), NULL},
        &r);
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "Hello, world!\nHello, world!\n");
    cr_assert(strstr(r.err, "Re-using existing connection"), "%s", r.err);
    cr_assert(strstr(r.err, "< Content-Length: 14"), "%s", r.err);

    run((char *[]){"curl", "-s", "--data-binary", "twelve bytes",
                   url("http", "127.0.0.1", port, "/"), NULL},
        &r);
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "Hello, world!\nreceived 12 bytes\n");

    /* Expect: 100-continue is answered, so curl sends the body at once. */
    run((char *[]){"curl", "-s", "-H", "Expect: 100-continue", "--data-binary", "abc",
                   url("http", "127.0.0.1", port, "/"), NULL},
        &r);
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "Hello, world!\nreceived 3 bytes\n");

    run((char *[]){"curl", "-sI", url("http", "127.0.0.1", port, "/"), NULL}, &r);
    assert_exit(&r, 0);
    cr_assert_eq(strncmp(r.out, "HTTP/1.1 200 OK\r\n", 17), 0, "%s", r.out);
    cr_assert(strstr(r.out, "Content-Length: 14\r\n"), "%s", r.out);

    /* HTTP/1.0 closes unless asked to keep the connection alive. */
    run((char *[]){"curl", "-si", "-0", url("http", "127.0.0.1", port, "/"), NULL}, &r);
    assert_exit(&r, 0);
    cr_assert(strstr(r.out, "\r\nConnection: close\r\n"), "%s", r.out);

    /* Too big: a header block over 8 KiB, a body over 1 MiB. */
    static char big[9000];
    snprintf(big, sizeof(big), "X-Big: %0*d", 8990, 0);
    run((char *[]){"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", big,
                   url("http", "127.0.0.1", port, "/"), NULL},
        &r);
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "431");
    FILE *f = fopen(in_tmp("body"), "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 2048; i++)
        fwrite(big, 1, 1024, f);
    fclose(f);
    char at_body[140];
    snprintf(at_body, sizeof(at_body), "@%s", in_tmp("body"));
    run((char *[]){"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--data-binary", at_body,
                   url("http", "127.0.0.1", port, "/"), NULL},
        &r);
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "413");
    server_stop(&srv, SIGTERM);
}

Test(http_examples, hello_http_requests_curl_would_not_send)
{
    static child srv;
    uint16_t port = server_start(&srv, (char *[]){EX("hello_http"), "--port", "0", NULL});
    struct conn c;
    c_open(&c, port);
    /* Two pipelined requests, answered in order on one connection. */
    c_send(&c, "GET / HTTP/1.1\r\nHost: a\r\n\r\nPOST / HTTP/1.1\r\nHost: a\r\n"
               "Content-Length: 5\r\n\r\nhello");
    c_expect(&c, NULL, 200, "Hello, world!\n");
    c_expect(&c, NULL, 200, "Hello, world!\nreceived 5 bytes\n");
    /* An unknown method: 405, and the connection stays usable. */
    c_expect(&c, "DELETE / HTTP/1.1\r\nHost: a\r\n\r\n", 405, "Method Not Allowed\n");
    c_expect(&c, "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", 200, "");
    c_expect(&c, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 200, "Hello, world!\n");
    c_expect_eof(&c);

    /* HTTP/1.0 with keep-alive stays open. */
    c_open(&c, port);
    c_expect(&c, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200, "Hello, world!\n");
    c_expect(&c, "GET / HTTP/1.0\r\n\r\n", 200, "Hello, world!\n");
    c_expect_eof(&c);

    /* Malformed: 400 and closed. */
    static const char *const bad[] = {
        "GARBAGE\r\n\r\n",
        "GET /\r\nHost: a\r\n\r\n",
        "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n", /* no Host */
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\nX: bare LF\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n folded: line\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX: nul\x01\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        refused_with(port, bad[i], 400);
    refused_with(port, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 501);
    refused_with(port, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n", 413);

    /* A head cut short by the client's EOF is a 400 too. */
    c_open(&c, port);
    c_send(&c, "GET / HTTP/1.1\r\nHo");
    cr_assert_eq(shutdown(c.fd, SHUT_WR), 0);
    struct response r;
    c_response(&c, &r, false);
    cr_assert_eq(r.status, 400, "%s", r.head);
    c_expect_eof(&c);
    server_stop(&srv, SIGTERM);
}

Test(http_examples, hello_http_idle_timeout_and_graceful_shutdown)
{
    static child srv;
    uint16_t port = server_start(
        &srv, (char *[]){EX("hello_http"), "--idle-timeout", "0.3", "--port", "0", NULL});
    struct conn idle, busy;
    c_open(&idle, port);
    double t0 = now();
    c_expect_eof(&idle);
    cr_assert_geq(now() - t0, 0.25, "dropped after %.3f s", now() - t0);
    server_stop(&srv, SIGTERM);

    /* SIGTERM with one idle keep-alive connection and one request in
     * progress: the idle one is closed at once, the busy one gets its
     * answer with Connection: close, and the server exits well before
     * its 5 s grace period. */
    port = server_start(&srv, (char *[]){EX("hello_http"), "--port", "0", NULL});
    c_open(&idle, port);
    c_expect(&idle, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 200, "Hello, world!\n");
    /* The 100 Continue says the server has the head and waits for the
     * body: the request is in progress. */
    c_open(&busy, port);
    c_send(&busy, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n"
                  "Expect: 100-continue\r\n\r\nhalf ");
    struct response r;
    c_response_no_body(&busy, &r);
    cr_assert_eq(r.status, 100, "%s", r.head);
    cr_assert_eq(kill(srv.pid, SIGTERM), 0);
    server_expect(&srv, "shutting down");
    c_expect_eof(&idle);
    c_send(&busy, "done!");
    c_response(&busy, &r, false);
    cr_assert_eq(r.status, 200, "%s", r.head);
    cr_assert_str_eq(r.body, "Hello, world!\nreceived 10 bytes\n");
    cr_assert(strstr(r.head, "\r\nConnection: close\r\n"), "%s", r.head);
    c_expect_eof(&busy);
    server_stop_within(&srv, SIGTERM, 2.5);
}

Test(http_examples, hello_http_under_wrk)
{
    if (!have("wrk"))
        cr_skip_test("wrk is not installed");
    static child srv;
    static struct result r;
    uint16_t port = server_start(&srv, (char *[]){EX("hello_http"), "--port", "0", NULL});
    run((char *[]){"wrk", "-t1", "-c50", "-d2s", url("http", "127.0.0.1", port, "/"), NULL}, &r);
    assert_exit(&r, 0);
    const char *req = strstr(r.out, " requests in ");
    cr_assert_not_null(req, "%s", r.out);
    while (req > r.out && req[-1] >= '0' && req[-1] <= '9')
        req--;
    cr_assert_gt(atol(req), 100, "%s", r.out);
    cr_assert_null(strstr(r.out, "Socket errors"), "%s", r.out);
    cr_assert_null(strstr(r.out, "Non-2xx"), "%s", r.out);
    /* Still answering afterwards. */
    struct conn c;
    c_open(&c, port);
    c_expect(&c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 200, "Hello, world!\n");
    c_close(&c);
    server_stop(&srv, SIGTERM);
}

/* ---- http_headers --------------------------------------------------------------------- */

Test(http_examples, http_headers_over_http_and_https)
{
    static child plain, tls;
    static struct result r;
    uint16_t port = server_start(&plain, (char *[]){EX("hello_http"), "--port", "0", NULL});
    run((char *[]){EX("http_headers"), url("http", "127.0.0.1", port, "/x?y=1"), NULL}, &r);
    assert_exit(&r, 0);
    cr_assert_eq(strncmp(r.out, "HTTP/1.1 200 OK\nDate: ", 22), 0, "%s", r.out);
    cr_assert(strstr(r.out, "\nContent-Length: 14\nConnection: close\n"), "%s", r.out);
    cr_assert_str_empty(r.err);
    server_stop(&plain, SIGTERM);

    make_cert("local", "localhost", "DNS:localhost,IP:127.0.0.1");
    make_cert("other", "other.test", "DNS:other.test");
    port = server_start(&tls, (char *[]){EX("hello_http"), "--tls-cert", in_tmp("local.pem"),
                                         "--tls-key", in_tmp("local.key"), "--port", "0", NULL});
    char *hosts[] = {"localhost", "127.0.0.1"};
    for (int i = 0; i < 2; i++) {
        run((char *[]){EX("http_headers"), "--cafile", in_tmp("local.pem"),
                       url("https", hosts[i], port, "/"), NULL},
            &r);
        assert_exit(&r, 0);
        cr_assert_eq(strncmp(r.out, "HTTP/1.1 200 OK\n", 16), 0, "%s", r.out);
    }
    /* Not trusted without --cafile; trusted, but for another name. */
    run((char *[]){EX("http_headers"), url("https", "localhost", port, "/"), NULL}, &r);
    assert_exit(&r, 5);
    assert_one_line(&r, "certificate verify failed");
    cr_assert_str_empty(r.out);
    server_stop(&tls, SIGTERM);
    port = server_start(&tls, (char *[]){EX("hello_http"), "--tls-cert", in_tmp("other.pem"),
                                         "--tls-key", in_tmp("other.key"), "--port", "0", NULL});
    run((char *[]){EX("http_headers"), "--cafile", in_tmp("other.pem"),
                   url("https", "localhost", port, "/"), NULL},
        &r);
    assert_exit(&r, 5);
    assert_one_line(&r, "TLS");
    cr_assert(strstr(r.err, "host name") || strstr(r.err, "hostname"), "%s", r.err);
    server_stop(&tls, SIGTERM);
}

/* A peer that accepts one connection, reads the request and answers
 * `reply` (NULL: nothing), then closes. */
static void answer_once(int listener, const char *reply)
{
    struct pollfd p = {.fd = listener, .events = POLLIN};
    cr_assert_eq(poll(&p, 1, (int)(STEP * 1000)), 1, "no connection");
    int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    cr_assert_geq(fd, 0);
    char buf[1024];
    struct timeval tv = {.tv_sec = (time_t)STEP};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    cr_assert_gt(recv(fd, buf, sizeof(buf), 0), 0);
    if (reply)
        cr_assert_eq(send(fd, reply, strlen(reply), MSG_NOSIGNAL), (ssize_t)strlen(reply));
    close(fd);
}

/* http_headers against a peer answering `reply`: exits 6 naming `why`. */
static void not_http(const char *reply, const char *why)
{
    static struct result r;
    uint16_t port;
    int fd = loopback_socket(true, &port);
    int o[2], e[2];
    cr_assert_eq(pipe2(o, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(e, O_CLOEXEC), 0);
    pid_t pid = spawn((char *[]){EX("http_headers"), url("http", "127.0.0.1", port, "/"), NULL}, -1,
                      o[1], e[1]);
    close(o[1]);
    close(e[1]);
    answer_once(fd, reply);
    close(fd);
    size_t olen = 0, elen = 0;
    bool eof = false;
    double deadline = now() + STEP;
    while (!eof)
        cr_assert(drain_until(e[0], r.err, sizeof(r.err), &elen, deadline, &eof));
    drain_until(o[0], r.out, sizeof(r.out), &olen, deadline, &eof);
    close(o[0]);
    close(e[0]);
    cr_assert_eq(waitpid(pid, &r.status, 0), pid);
    reaped(pid);
    assert_exit(&r, 6);
    assert_one_line(&r, why);
}

Test(http_examples, http_headers_failures)
{
    static struct result r;
    char long_label[80], dns_url[100];
    memset(long_label, 'x', 70); /* over 63: refused by the resolver itself, no query */
    long_label[70] = '\0';
    snprintf(dns_url, sizeof(dns_url), "http://%s.test/", long_label);
    run((char *[]){EX("http_headers"), dns_url, NULL}, &r);
    assert_exit(&r, 3);
    assert_one_line(&r, "DNS: ");

    uint16_t port;
    int fd = loopback_socket(false, &port);
    run((char *[]){EX("http_headers"), url("http", "127.0.0.1", port, "/"), NULL}, &r);
    assert_exit(&r, 4);
    assert_one_line(&r, "Connection refused");
    close(fd);

    fd = loopback_socket(true, &port); /* connects, never answers */
    run((char *[]){EX("http_headers"), "--timeout", "0.3", url("http", "127.0.0.1", port, "/"),
                   NULL},
        &r);
    assert_exit(&r, 7);
    assert_one_line(&r, "timed out");
    close(fd);

    not_http("SSH-2.0-OpenSSH_9.2\r\n", "HTTP: malformed status line");
    not_http("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "HTTP: malformed header line");
    not_http("HTTP/1.1 200 OK\r\nServer: cut", "HTTP: response cut short");
    not_http(NULL, "HTTP: connection closed without a response");
}

/* ---- fetch_many ----------------------------------------------------------------------------- */

static void assert_line(const char *out, const char *prefix, const char *rest)
{
    char want[256];
    snprintf(want, sizeof(want), "%s%s", prefix, rest);
    const char *p = out;
    size_t n = strlen(prefix);
    while (p && strncmp(p, prefix, n) != 0) {
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    cr_assert_not_null(p, "no line starting \"%s\" in:\n%s", prefix, out);
    cr_assert(strstr(p, rest) && strstr(p, rest) < strchr(p, '\n'), "want \"%s\" in:\n%s", want,
              out);
}

Test(http_examples, fetch_many_reports_each_target)
{
    static child http, echo;
    static struct result r;
    uint16_t hport = server_start(&http, (char *[]){EX("hello_http"), "--port", "0", NULL});
    uint16_t eport =
        server_start(&echo, (char *[]){EX("echo_server"), "--lines", "--port", "0", NULL});
    uint16_t silent_port, refused_port;
    int silent = loopback_socket(true, &silent_port);
    int refused = loopback_socket(false, &refused_port);
    char echo_t[32], silent_t[32], refused_t[32], dns_t[100];
    snprintf(echo_t, sizeof(echo_t), "127.0.0.1:%u", eport);
    snprintf(silent_t, sizeof(silent_t), "127.0.0.1:%u", silent_port);
    snprintf(refused_t, sizeof(refused_t), "127.0.0.1:%u", refused_port);
    snprintf(dns_t, sizeof(dns_t), "%0*d.test:80", 70, 0);
    char *http_t = url("http", "127.0.0.1", hport, "/");

    run((char *[]){EX("fetch_many"), "--concurrency", "2", "--timeout", "0.5", http_t, echo_t,
                   silent_t, refused_t, dns_t, NULL},
        &r);
    assert_exit(&r, 1);
    char prefix[128];
    snprintf(prefix, sizeof(prefix), "%s ok ", http_t);
    assert_line(r.out, prefix, " ms: HTTP/1.1 200 OK\n");
    snprintf(prefix, sizeof(prefix), "%s ok ", echo_t);
    assert_line(r.out, prefix, " ms: ping\n");
    snprintf(prefix, sizeof(prefix), "%s error ", silent_t);
    assert_line(r.out, prefix, "timed out after 0.5 s (waiting for the reply)\n");
    snprintf(prefix, sizeof(prefix), "%s error ", refused_t);
    assert_line(r.out, prefix, "connection: Connection refused\n");
    snprintf(prefix, sizeof(prefix), "%s error ", dns_t);
    assert_line(r.out, prefix, "DNS: ");
    assert_line(r.out, "5 targets: ", "2 ok, 3 failed, at most 2 at once (--concurrency 2)");
    cr_assert_str_empty(r.err);

    /* Everything answers: exit 0. */
    run((char *[]){EX("fetch_many"), http_t, echo_t, url("http", "localhost", hport, "/a"), NULL},
        &r);
    assert_exit(&r, 0);
    assert_line(r.out, "3 targets: ", "3 ok, 0 failed");
    close(silent);
    close(refused);
    server_stop(&http, SIGTERM);
    server_stop(&echo, SIGTERM);
}

/* The semaphore serialises: three silent targets one at a time take three
 * timeouts; three at a time, the report says so. */
Test(http_examples, fetch_many_concurrency_limit)
{
    static struct result r;
    uint16_t ports[3];
    int fds[3];
    char targets[3][32];
    for (int i = 0; i < 3; i++) {
        fds[i] = loopback_socket(true, &ports[i]);
        snprintf(targets[i], sizeof(targets[i]), "127.0.0.1:%u", ports[i]);
    }
    double t0 = now();
    run((char *[]){EX("fetch_many"), "--concurrency", "1", "--timeout", "0.3", targets[0],
                   targets[1], targets[2], NULL},
        &r);
    double took = now() - t0;
    assert_exit(&r, 1);
    assert_line(r.out, "3 targets: ", "0 ok, 3 failed, at most 1 at once");
    cr_assert_geq(took, 0.85, "three 0.3 s timeouts in a row took %.3f s", took);
    run((char *[]){EX("fetch_many"), "--concurrency", "3", "--timeout", "0.3", targets[0],
                   targets[1], targets[2], NULL},
        &r);
    assert_exit(&r, 1);
    assert_line(r.out, "3 targets: ", "0 ok, 3 failed, at most 3 at once");
    for (int i = 0; i < 3; i++)
        close(fds[i]);
}

/* ---- the demo ------------------------------------------------------------------------------- */

Test(http_examples, demo_script)
{
    if (!have("nc") || !have("openssl"))
        cr_skip_test("the demo needs nc and openssl");
    static struct result r;
    cr_assert_eq(setenv("BUILD_DIR", CIO_TEST_BINARY_DIR, 1), 0);
    run_for((char *[]){"bash", CIO_TEST_SOURCE_DIR "/examples/demo.sh", NULL}, &r, 60);
    assert_exit(&r, 0);
    cr_assert(strstr(r.out, "demo: all 7 steps ok in "), "%s", r.out);
    cr_assert_null(strstr(r.out, "FAILED"), "%s", r.out);
}
