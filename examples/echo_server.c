/* echo_server: TCP echo server; with --lines, the line-based (readline)
 * variant; with --tls-cert/--tls-key, over TLS.
 *
 * The asyncio program it mirrors (the docs' "TCP echo server using
 * streams", looping until EOF instead of reading once):
 *
 *     async def handle_echo(reader, writer):
 *         print("connection from", writer.get_extra_info("peername"))
 *         while data := await reader.read(4096):    # --lines: readline()
 *             writer.write(data)
 *             await writer.drain()
 *         writer.close()
 *         await writer.wait_closed()
 *
 *     async def main():
 *         server = await asyncio.start_server(handle_echo, "127.0.0.1", 0)
 *         print("listening on", server.sockets[0].getsockname())
 *         loop.add_signal_handler(signal.SIGTERM, server.close)
 *         async with server:
 *             await server.serve_forever()
 *
 * What it shows:
 *  - cio_start_server runs the handler in a task per connection; the
 *    handler is straight-line code, like the coroutine above.
 *  - write + drain: cio_write never blocks, cio_drain waits while the
 *    client reads more slowly than it sends (backpressure).
 *  - An idle timeout (a timeout scope around each read/write round), so a
 *    client that goes silent cannot hold its connection forever.
 *  - --lines: cio_readline_view (zero-copy) with a line limit; an
 *    over-long line is answered with an error and the stream
 *    resynchronises on the next line (asyncio raises ValueError and
 *    loses its place).
 *  - Graceful shutdown on SIGINT/SIGTERM: stop listening, close the
 *    clients (their pending reads see EOF, queued replies are flushed),
 *    and wait for the handlers at most --grace seconds.
 *
 * Try it:
 *     ./echo_server --port 8888 &
 *     ./echo_client --port 8888 hello
 *     ./echo_server --lines --port 8889 &  nc -N 127.0.0.1 8889 */
#include "common.h"

static struct {
    const char *host, *tls_cert, *tls_key;
    uint16_t port;
    bool lines;
    long max_line;
    double idle_timeout, grace;
} cfg = {"127.0.0.1", NULL, NULL, 0, false, CIO_DEFAULT_LIMIT, 60.0, 5.0};

static void handle_echo(cio_stream *s, void *arg)
{
    (void)arg;
    char peer[64], buf[4096];
    ex_peer(s, peer, sizeof(peer));
    printf("connection from %s\n", peer);

    ssize_t n;
    for (;;) {
        /* One round (read, then write the echo and drain it) must finish
         * within the idle timeout: a client that stops sending, or stops
         * reading its echo, is dropped with -ETIMEDOUT. */
        cio_timeout idle;
        cio_timeout_enter(&idle, cfg.idle_timeout);
        const char *data = buf;
        n = cfg.lines ? cio_readline_view(s, &data) : cio_read(s, buf, sizeof(buf));
        if (n == CIO_ELIMIT) {
            /* Nothing of the long line is echoed; the next readline
             * returns the line after it. */
            data = "error: line too long\n";
            n = (ssize_t)strlen(data);
        }
        if (n > 0) {
            int rc = cio_write(s, data, (size_t)n);
            if (rc == 0)
                rc = cio_drain(s);
            if (rc)
                n = rc;
        }
        cio_timeout_exit(&idle);
        if (n <= 0)
            break;
    }
    if (n == 0) /* EOF: from the client, or from cio_server_close_clients */
        printf("%s: closed by the %s\n", peer, cio_is_closing(s) ? "server" : "client");
    else if (n == -ETIMEDOUT)
        printf("%s: idle for %g s, closing\n", peer, cfg.idle_timeout);
    else
        printf("%s: closing: %s\n", peer, cio_strerror((int)n));

    /* writer.close(); await writer.wait_closed() — the server releases the
     * stream when the handler returns. */
    cio_close(s);
    cio_wait_closed(s);
}

/* After a signal closed the server: the clients' pending reads see EOF
 * (queued echoes are flushed first), and the handlers get --grace
 * seconds to finish. */
static void shut_down(cio_server *srv)
{
    cio_server_close_clients(srv);
    cio_server_shutdown(srv, cfg.grace);
}

static intptr_t serve(void *arg)
{
    (void)arg;
    cio_server_opts so = CIO_SERVER_OPTS_INIT;
    so.stream.limit = cfg.max_line;
    int rc = ex_server_tls(cfg.tls_cert, cfg.tls_key, &so.tls);
    if (rc)
        return rc;
    cio_server *srv;
    rc = cio_start_server(&srv, handle_echo, NULL, cfg.host, cfg.port, &so);
    cio_tls_ctx_free(so.tls); /* the server holds its own reference */
    if (rc)
        return ex_fail("start_server", rc);
    return ex_serve_forever(srv, shut_down); /* until SIGINT/SIGTERM, then shut_down */
}

int main(int argc, char **argv)
{
    const ex_opt opts[] = {
        EX_OPTS_LISTEN(&cfg.host, &cfg.port),
        {"--lines", NULL, EX_FLAG, &cfg.lines, "echo line by line (readline), not by chunks"},
        {"--max-line", "N", EX_COUNT, &cfg.max_line, "longest line for --lines (default 65536)"},
        {"--idle-timeout", "SECONDS", EX_SECONDS, &cfg.idle_timeout,
         "drop a client that stays silent this long (default 60)"},
        {"--grace", "SECONDS", EX_SECONDS, &cfg.grace,
         "on SIGINT/SIGTERM, let clients finish this long (default 5)"},
        EX_OPTS_TLS(&cfg.tls_cert, &cfg.tls_key, "TLS"),
        {NULL, NULL, 0, NULL, NULL},
    };
    ex_parse_options(argc, argv,
                     "TCP echo server: sends back whatever a client sends, and prints who\n"
                     "connected.  Stops gracefully on SIGINT or SIGTERM.",
                     opts);
    ex_block_signals();
    return ex_run(serve);
}
