/* Line echo server on cio streams for bench/harness/run-peers.sh (usage:
 * line_server PORT): readline + write + drain per line, the asyncio
 * readline server in C, reading lines as zero-copy views. */
#include <cio.h>

#include "bench_util.h"

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

int main(int argc, char **argv)
{
    return bench_server_main("line_server", echo_lines, argc, argv);
}
