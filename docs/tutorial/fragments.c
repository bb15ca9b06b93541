/* The code fragments of docs/tutorial.md that are not whole programs,
 * wrapped in functions so that they compile:
 *     cc -Wall -Wextra -Iinclude -c docs/tutorial/fragments.c -o /dev/null */
#include <cio.h>
#include <errno.h>
#include <stdio.h>

/* Step 3: asyncio's `while not reader.at_eof():` */
int at_eof_loop(cio_stream *s)
{
    char line[256];
    ssize_t n;
    while (!cio_at_eof(s)) {
        n = cio_readline(s, line, sizeof line);
        if (n <= 0) /* still needed: only this read may find the EOF */
            return (int)n;
        fwrite(line, 1, (size_t)n, stdout);
    }
    return 0;
}

/* Step 4: readexactly and IncompleteReadError. */
int read_header(cio_stream *s)
{
    char hdr[8];
    size_t got;
    ssize_t n = cio_readexactly(s, hdr, sizeof hdr, &got);
    if (n == CIO_EINCOMPLETE)                               /* except IncompleteReadError as e: */
        fprintf(stderr, "EOF after %zu of 8 bytes\n", got); /* e.partial */
    return n < 0 ? (int)n : 0;
}

/* Step 5: a deadline on connecting (async with asyncio.timeout(5):). */
int connect_within(cio_stream **s, const char *host, uint16_t port)
{
    cio_timeout t;
    cio_timeout_enter(&t, 5.0);
    int rc = cio_open_connection(s, host, port, NULL); /* -ETIMEDOUT after 5 s */
    cio_timeout_exit(&t);
    return rc;
}
