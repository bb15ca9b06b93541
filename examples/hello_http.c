/* hello_http: a minimal HTTP/1.1 keep-alive server on cio streams.
 *
 * Each connection is a task that loops: read the request head with
 * readuntil("\r\n\r\n") under an idle timeout, parse it (http_parse.h),
 * read a Content-Length body with readexactly, answer, write + drain.
 * The stream limit bounds the head: a longer one is a LimitOverrunError,
 * answered with 431.  Errors are answered and followed by a "lingering
 * close" (stop writing, discard input for a moment) so the client reads
 * the answer instead of a reset.
 *
 *   GET, HEAD  200 "Hello, world!\n"
 *   POST       200 "Hello, world!\nreceived N bytes\n"
 *   other      405; malformed 400; body over 1 MiB 413; head over 8 KiB
 *              431; Transfer-Encoding 501
 *
 * Keep-alive follows HTTP/1.1: persistent unless "Connection: close";
 * HTTP/1.0 closes unless "Connection: keep-alive".  SIGINT/SIGTERM stop
 * it gracefully: idle connections are dropped at once, requests in
 * progress get their answer (with "Connection: close"), within --grace.
 *
 * Try it:  ./hello_http --port 8080 &
 *          curl -v http://127.0.0.1:8080/ http://127.0.0.1:8080/again
 *          wrk -t1 -c50 -d2s http://127.0.0.1:8080/ */
#include <time.h>

#include "common.h"
#include "http_parse.h"

#define HEAD_LIMIT (8 * 1024)  /* request line + headers */
#define MAX_BODY (1024 * 1024) /* larger Content-Length: 413 */
#define LINGER_SECONDS 1.0     /* discarding input after an error answer */

static struct {
    const char *host, *tls_cert, *tls_key;
    uint16_t port;
    double idle_timeout, grace;
} cfg = {"127.0.0.1", NULL, NULL, 0, 5.0, 5.0};

/* A live connection; the list lets a shutdown cancel the idle ones. */
struct conn {
    struct conn *prev, *next;
    cio_task *task;
    bool idle; /* waiting for a request head */
};

/* Every live connection: a circular list around a dummy head. */
static struct conn conns = {.prev = &conns, .next = &conns};
static bool stopping;

/* Bodies are discarded: tasks of one loop never run at the same time, so
 * they can share one scratch buffer. */
static char scratch[16 * 1024];

static const char *status_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Content Too Large";
    case 431:
        return "Request Header Fields Too Large";
    default:
        return "Not Implemented";
    }
}

/* The Date header, formatted once a second. */
static const char *http_date(void)
{
    static char buf[40];
    static time_t last;
    time_t now = time(NULL);
    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        last = now;
    }
    return buf;
}

/* Send one response (the body left out for HEAD) and wait for the socket
 * to take it.  minor and keep decide the Connection header. */
static int respond(cio_stream *s, int status, int minor, bool keep, const char *extra,
                   const char *body, size_t len, bool head_only)
{
    char head[512];
    const char *conn = !keep        ? "Connection: close\r\n"
                       : minor == 0 ? "Connection: keep-alive\r\n"
                                    : "";
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n%s%s\r\n",
                     status, status_reason(status), http_date(), len, conn, extra);
    struct iovec iov[2] = {{head, (size_t)n}, {(void *)body, head_only ? 0 : len}};
    int rc = cio_writev(s, iov, 2);
    return rc ? rc : cio_drain(s);
}

/* Answer an error, then close the way RFC 9112 9.6 asks: stop writing and
 * read what the client still sends for a moment before closing, or the
 * close would reset the connection and could destroy the answer before
 * the client has read it.  Returns false: the connection is done. */
static bool refuse(cio_stream *s, int status)
{
    char body[64];
    int len = snprintf(body, sizeof(body), "%s\n", status_reason(status));
    if (respond(s, status, 1, false, "", body, (size_t)len, false) == 0) {
        cio_write_eof(s); /* -ENOTSUP on TLS, whose close sends close_notify instead */
        cio_timeout linger;
        cio_timeout_enter(&linger, LINGER_SECONDS);
        while (cio_read(s, scratch, sizeof(scratch)) > 0)
            ;
        cio_timeout_exit(&linger);
    }
    return false;
}

/* Read and discard a body of len bytes; the idle timeout applies to each
 * chunk, so a slow upload may take long as long as it makes progress. */
static int discard_body(cio_stream *s, long long len)
{
    while (len > 0) {
        size_t chunk = len < (long long)sizeof(scratch) ? (size_t)len : sizeof(scratch);
        cio_timeout t;
        cio_timeout_enter(&t, cfg.idle_timeout);
        ssize_t n = cio_readexactly(s, scratch, chunk, NULL);
        cio_timeout_exit(&t);
        if (n < 0)
            return (int)n;
        len -= n;
    }
    return 0;
}

enum method { M_GET, M_HEAD, M_POST, M_OTHER };

static enum method method_of(const struct http_request *rq)
{
    static const char *const names[] = {"GET", "HEAD", "POST"};
    for (int m = M_GET; m < M_OTHER; m++)
        if (rq->method_len == strlen(names[m]) && !memcmp(rq->method, names[m], rq->method_len))
            return (enum method)m;
    return M_OTHER;
}

/* Serve one request; true to keep the connection for the next one. */
static bool serve_one(cio_stream *s, struct conn *c)
{
    const char *head;
    cio_timeout idle;
    c->idle = true;
    cio_timeout_enter(&idle, cfg.idle_timeout);
    ssize_t n = cio_readuntil_view(s, "\r\n\r\n", 4, &head);
    cio_timeout_exit(&idle);
    c->idle = false;
    if (n == CIO_ELIMIT)
        return refuse(s, 431);
    if (n == CIO_EINCOMPLETE) /* EOF: clean between requests, else a cut-off head */
        return cio_stream_buffered(s) ? refuse(s, 400) : false;
    if (n < 0) /* idle timeout, shutdown, reset */
        return false;

    struct http_request rq;
    int status = http_parse_request(head, (size_t)n, &rq);
    if (status)
        return refuse(s, status);
    if (rq.content_length > MAX_BODY)
        return refuse(s, 413);
    /* The head is a view into the stream's buffer: take what we need
     * before the body read replaces it. */
    enum method m = method_of(&rq);
    int minor = rq.minor;
    bool keep = minor >= 1 ? !rq.close : rq.keep_alive;
    long long body_len = rq.content_length > 0 ? rq.content_length : 0;

    if (body_len && rq.expect_continue && cio_write(s, "HTTP/1.1 100 Continue\r\n\r\n", 25))
        return false;
    if (discard_body(s, body_len))
        return false;

    char body[64];
    int len;
    if (m == M_OTHER) {
        len = snprintf(body, sizeof(body), "%s\n", status_reason(405));
        status = 405;
    } else {
        len = snprintf(body, sizeof(body), "Hello, world!\n");
        if (m == M_POST)
            len +=
                snprintf(body + len, sizeof(body) - (size_t)len, "received %lld bytes\n", body_len);
        status = 200;
    }
    keep &= !stopping; /* after a shutdown began, this is the last answer */
    if (respond(s, status, minor, keep, status == 405 ? "Allow: GET, HEAD, POST\r\n" : "", body,
                (size_t)len, m == M_HEAD))
        return false;
    return keep;
}

static void handle(cio_stream *s, void *arg)
{
    (void)arg;
    struct conn c = {.prev = &conns, .next = conns.next, .task = cio_current()};
    c.next->prev = &c;
    conns.next = &c;
    while (serve_one(s, &c))
        ;
    c.prev->next = c.next;
    c.next->prev = c.prev;
}

/* After the signal closed the server: idle connections are cancelled,
 * busy ones finish their request (answered with Connection: close), all
 * within the grace period. */
static void shut_down(cio_server *srv)
{
    stopping = true;
    for (struct conn *c = conns.next; c != &conns; c = c->next)
        if (c->idle)
            cio_cancel(c->task);
    cio_server_shutdown(srv, cfg.grace);
}

static intptr_t serve(void *arg)
{
    (void)arg;
    cio_server_opts so = CIO_SERVER_OPTS_INIT;
    so.stream.limit = HEAD_LIMIT;
    int rc = ex_server_tls(cfg.tls_cert, cfg.tls_key, &so.tls);
    if (rc)
        return rc;
    cio_server *srv;
    rc = cio_start_server(&srv, handle, NULL, cfg.host, cfg.port, &so);
    cio_tls_ctx_free(so.tls); /* the server holds its own reference */
    if (rc)
        return ex_fail("start_server", rc);
    return ex_serve_forever(srv, shut_down); /* until SIGINT/SIGTERM, then shut_down */
}

int main(int argc, char **argv)
{
    const ex_opt opts[] = {
        EX_OPTS_LISTEN(&cfg.host, &cfg.port),
        {"--idle-timeout", "SECONDS", EX_SECONDS, &cfg.idle_timeout,
         "close a connection that sends no request this long (default 5)"},
        {"--grace", "SECONDS", EX_SECONDS, &cfg.grace,
         "on SIGINT/SIGTERM, let requests finish this long (default 5)"},
        EX_OPTS_TLS(&cfg.tls_cert, &cfg.tls_key, "HTTPS"),
        {NULL, NULL, 0, NULL, NULL},
    };
    ex_parse_options(
        argc, argv,
        "A minimal HTTP/1.1 keep-alive server: GET and HEAD answer \"Hello, world!\",\n"
        "POST also says how many body bytes it got.  Malformed requests get 400,\n"
        "bodies over 1 MiB 413, heads over 8 KiB 431.  Stops gracefully on SIGINT\n"
        "or SIGTERM.",
        opts);
    ex_block_signals();
    return ex_run(serve);
}
