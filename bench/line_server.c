/* Line echo server on cio streams for ../shared/bench (usage:
 * line_server PORT): readline + write + drain per line, the asyncio
 * readline server in C, reading lines as zero-copy views. */
#include <cio.h>
#include <stdio.h>
#include <stdlib.h>

static void echo_lines(cio_stream *s, void *arg)
{
    (void)arg;
    const char *line;
    ssize_t n;
    while ((n = cio_readline_view(s, &line)) > 0) {
        if (cio_write(s, line, (size_t)n) < 0 || cio_drain(s) < 0)
            return;
    }
}

static intptr_t serve(void *arg)
{
    cio_server *srv;
    cio_server_opts opts = CIO_SERVER_OPTS_INIT;
    opts.backlog = 4096; /* as the peers use: scenario (c) opens 1000 connections at once */
    int rc = cio_start_server(&srv, echo_lines, NULL, "127.0.0.1", (uint16_t)atoi(arg), &opts);
    if (rc) {
        fprintf(stderr, "line_server: %s\n", cio_strerror(rc));
        return 1;
    }
    rc = cio_server_serve_forever(srv);
    cio_server_free(srv);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: line_server PORT\n");
        return 2;
    }
    return (int)cio_run(serve, argv[1]);
}
