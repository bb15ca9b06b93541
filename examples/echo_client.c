/* echo_client: sends a message to an echo server and prints the echo.
 *
 * The asyncio program it mirrors (the docs' "TCP echo client using
 * streams", with the timeout and the exact read a real client needs, and
 * without its drain before reading, see echo_message):
 *
 *     async def tcp_echo_client(message):
 *         async with asyncio.timeout(10):
 *             reader, writer = await asyncio.open_connection(
 *                 "127.0.0.1", 8888, ssl=ctx)            # --tls [--cafile]
 *             writer.write(message.encode())
 *             data = await reader.readexactly(len(message))
 *             print(data.decode())
 *             writer.close()
 *             await writer.wait_closed()
 *
 * What it shows:
 *  - cio_open_connection, plain or TLS (a client context verifying the
 *    server against --cafile or the system store, and its name).
 *  - One timeout scope over the whole exchange (asyncio.timeout): any
 *    step that would outlast it fails with -ETIMEDOUT (TimeoutError).
 *  - cio_readexactly rather than one read: the docs' read(100) may
 *    return part of the echo; an early EOF is CIO_EINCOMPLETE
 *    (IncompleteReadError) with the partial byte count.
 *  - --lines: each argument is a line, written and drained; its echo is
 *    read with readline before the next line goes out.
 *  - Graceful close: cio_close, cio_wait_closed, cio_stream_release.
 *  - Any failure: exit status 1 and one line on stderr saying why.
 *
 * Try it:  ./echo_server --port 8888 &  ./echo_client --port 8888 hello world */
#include "common.h"

static struct {
    const char *host, *cafile;
    uint16_t port;
    bool tls, lines;
    double timeout;
} cfg = {"127.0.0.1", NULL, 0, false, false, 10.0};

static int nmsgs;
static char **msgs;

/* A one-line reason on stderr; the TLS errors come with OpenSSL's. */
static int fail(const char *what, int err, const cio_stream *s)
{
    if (err != -ETIMEDOUT)
        return ex_fail_tls(what, err, s);
    fprintf(stderr, "%s: %s: timed out (--timeout %g)\n", ex_prog, what, cfg.timeout);
    return 1;
}

/* The arguments joined by spaces, as echo(1) does. */
static char *join_args(size_t *len)
{
    size_t n = 1;
    for (int i = 0; i < nmsgs; i++)
        n += strlen(msgs[i]) + 1;
    char *buf = malloc(n), *p = buf;
    if (!buf)
        return NULL;
    for (int i = 0; i < nmsgs; i++) {
        if (i)
            *p++ = ' ';
        p = stpcpy(p, msgs[i]);
    }
    *len = (size_t)(p - buf);
    return buf;
}

static int echo_message(cio_stream *s)
{
    size_t len, got;
    char *msg = join_args(&len);
    char *reply = malloc(len + 1);
    if (!msg || !reply) {
        free(msg);
        free(reply);
        return fail("message", -ENOMEM, s);
    }
    /* No drain before reading: cio_write has queued the whole message and
     * the loop sends it while we read the echo.  (Draining first could
     * wait forever on a message larger than the socket buffers: the
     * server stops reading while we do not read its echo.) */
    int rc = cio_write(s, msg, len);
    ssize_t n = rc ? rc : cio_readexactly(s, reply, len, &got);
    if (n == (ssize_t)len)
        printf("%.*s\n", (int)len, reply);
    else if (n == CIO_EINCOMPLETE)
        fprintf(stderr, "%s: receive: the server closed the connection after %zu of %zu bytes\n",
                ex_prog, got, len);
    else
        fail(rc ? "send" : "receive", (int)n, s);
    free(msg);
    free(reply);
    return n == (ssize_t)len ? 0 : 1;
}

/* --lines: a conversation, one line and its echo at a time. */
static int echo_lines(cio_stream *s)
{
    for (int i = 0; i < nmsgs; i++) {
        int rc = cio_writev(s, (struct iovec[]){{msgs[i], strlen(msgs[i])}, {"\n", 1}}, 2);
        if (rc == 0)
            rc = cio_drain(s);
        if (rc)
            return fail("send", rc, s);
        const char *line;
        ssize_t n = cio_readline_view(s, &line);
        if (n == 0) {
            fprintf(stderr, "%s: receive: the server closed the connection\n", ex_prog);
            return 1;
        }
        if (n < 0)
            return fail("receive", (int)n, s);
        fwrite(line, 1, (size_t)n, stdout);
    }
    return 0;
}

static intptr_t client(void *arg)
{
    (void)arg;
    cio_connect_opts co = CIO_CONNECT_OPTS_INIT;
    if (cfg.tls) {
        cio_tls_client_opts to = CIO_TLS_CLIENT_OPTS_INIT;
        to.cafile = cfg.cafile;
        int rc = cio_tls_client_ctx(&co.tls, &to);
        if (rc)
            return fail(cfg.cafile ? cfg.cafile : "TLS setup", rc, NULL);
    }
    cio_timeout deadline;
    cio_timeout_enter(&deadline, cfg.timeout);
    cio_stream *s;
    int status;
    int rc = cio_open_connection(&s, cfg.host, cfg.port, &co);
    cio_tls_ctx_free(co.tls); /* the stream holds its own reference */
    if (rc) {
        char what[300];
        snprintf(what, sizeof(what), "connect to %s port %u", cfg.host, (unsigned)cfg.port);
        status = fail(what, rc, NULL);
    } else {
        status = cfg.lines ? echo_lines(s) : echo_message(s);
        cio_close(s);
        rc = cio_wait_closed(s);
        /* After a successful exchange, a close that fails (TLS: no
         * close_notify back) is worth a word but not a failure. */
        if (rc && status == 0)
            fprintf(stderr, "%s: warning: close: %s\n", ex_prog, cio_strerror(rc));
        cio_stream_release(s);
    }
    cio_timeout_exit(&deadline);
    return status;
}

int main(int argc, char **argv)
{
    const ex_opt opts[] = {
        {"--host", "HOST", EX_STR, &cfg.host, "server address or name (default 127.0.0.1)"},
        {"--port", "PORT", EX_PORT, &cfg.port, "server port (required)"},
        {"--lines", NULL, EX_FLAG, &cfg.lines, "send each MESSAGE as a line, read replies by line"},
        {"--tls", NULL, EX_FLAG, &cfg.tls, "connect with TLS, verifying the server"},
        {"--cafile", "FILE", EX_STR, &cfg.cafile, "trust these CAs (PEM), not the system's"},
        {"--timeout", "SECONDS", EX_SECONDS, &cfg.timeout, "give up after this long (default 10)"},
        {NULL, NULL, 0, NULL, NULL},
    };
    int i = ex_parse(argc, argv, "--port PORT [options] MESSAGE...",
                     "Sends MESSAGE (the arguments joined by spaces) to an echo server and\n"
                     "prints what comes back.",
                     opts);
    if (cfg.port == 0)
        ex_bad_usage("%s", "--port is required");
    if (i == argc)
        ex_bad_usage("%s", "no MESSAGE given");
    if (cfg.cafile && !cfg.tls)
        ex_bad_usage("%s", "--cafile needs --tls");
    msgs = argv + i;
    nmsgs = argc - i;
    return ex_run(client);
}
