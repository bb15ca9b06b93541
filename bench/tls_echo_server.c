/* TLS echo server on cio streams for bench/tls_bench.sh.
 *
 *   tls_echo_server PORT CERT KEY [discard]
 *
 * Listens on 127.0.0.1 with a server context made from CERT and KEY
 * (cio's defaults otherwise: TLS 1.2 and 1.3, Mozilla's intermediate suites).
 * Each connection is a task doing read + write + drain, as
 * bench/echo_server.c does over plain TCP; with "discard" it only reads
 * (the send-only comparison with openssl s_server). */
#include <cio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char buf[65536]; /* shared: tasks of one loop never run at the same time */
static bool discard;
static const char *cert, *key;

static void echo(cio_stream *s, void *arg)
{
    (void)arg;
    for (;;) {
        ssize_t n = cio_read(s, buf, sizeof(buf));
        if (n <= 0)
            return;
        if (!discard && (cio_write(s, buf, (size_t)n) < 0 || cio_drain(s) < 0))
            return;
    }
}

static intptr_t serve(void *arg)
{
    cio_tls_server_opts t = CIO_TLS_SERVER_OPTS_INIT;
    t.certfile = cert;
    t.keyfile = key;
    cio_tls_ctx *ctx;
    int rc = cio_tls_server_ctx(&ctx, &t);
    if (rc) {
        fprintf(stderr, "tls_echo_server: %s (%s)\n", cio_strerror(rc), cio_tls_error_reason(NULL));
        return 1;
    }
    cio_server *srv;
    cio_server_opts opts = CIO_SERVER_OPTS_INIT;
    opts.backlog = 4096;
    opts.tls = ctx;
    rc = cio_start_server(&srv, echo, NULL, "127.0.0.1", (uint16_t)atoi(arg), &opts);
    cio_tls_ctx_free(ctx); /* the server holds its own reference */
    if (rc) {
        fprintf(stderr, "tls_echo_server: %s\n", cio_strerror(rc));
        return 1;
    }
    rc = cio_server_serve_forever(srv);
    cio_server_free(srv);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5 || (argc == 5 && strcmp(argv[4], "discard") != 0)) {
        fprintf(stderr, "usage: tls_echo_server PORT CERT KEY [discard]\n");
        return 2;
    }
    cert = argv[2];
    key = argv[3];
    discard = argc == 5;
    return (int)cio_run(serve, argv[1]);
}
