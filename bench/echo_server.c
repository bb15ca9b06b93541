/* Echo server on cio streams for ../shared/bench (usage: echo_server PORT).
 *
 * Each connection is a task doing read + write + drain — the asyncio
 * program, in C.  Like the raw epoll reference it reads into one 64 KiB
 * buffer shared by all connections: tasks of a loop never run at the same
 * time and cio_write copies what the socket does not take at once. */
#include <cio.h>
#include <stdio.h>
#include <stdlib.h>

static char buf[65536];

static void echo(cio_stream *s, void *arg)
{
    (void)arg;
    for (;;) {
        ssize_t n = cio_read(s, buf, sizeof(buf));
        if (n <= 0 || cio_write(s, buf, (size_t)n) < 0 || cio_drain(s) < 0)
            return;
    }
}

static intptr_t serve(void *arg)
{
    cio_server *srv;
    cio_server_opts opts = CIO_SERVER_OPTS_INIT;
    opts.backlog = 4096; /* as the peers use: scenario (c) opens 1000 connections at once */
    int rc = cio_start_server(&srv, echo, NULL, "127.0.0.1", (uint16_t)atoi(arg), &opts);
    if (rc) {
        fprintf(stderr, "echo_server: %s\n", cio_strerror(rc));
        return 1;
    }
    rc = cio_server_serve_forever(srv);
    cio_server_free(srv);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: echo_server PORT\n");
        return 2;
    }
    return (int)cio_run(serve, argv[1]);
}
