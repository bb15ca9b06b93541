/* Echo server on cio streams for bench/harness/run-peers.sh (usage: echo_server PORT).
 *
 * Each connection is a task doing read + write + drain — the asyncio
 * program, in C.  Like the raw epoll reference it reads into one 64 KiB
 * buffer shared by all connections: tasks of a loop never run at the same
 * time and cio_write copies what the socket does not take at once. */
#include <cio.h>

#include "bench_util.h"

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

int main(int argc, char **argv)
{
    return bench_server_main("echo_server", echo, argc, argv);
}
