/* Tutorial step 4: a client for the step 3 server (docs/tutorial.md).
 * Usage: step4 PORT WORD...   (each WORD is sent as a line) */
#include <cio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int nwords;
static char **words;
static uint16_t port;

/* One line out, one line back, for each word; then EOF and the goodbye. */
static int talk(cio_stream *s)
{
    char line[256];
    ssize_t n;
    for (int i = 0; i < nwords; i++) {
        int rc = cio_writev(s, (struct iovec[]){{words[i], strlen(words[i])}, {"\n", 1}}, 2);
        if (rc == 0)
            rc = cio_drain(s);
        if (rc < 0)
            return rc;
        if ((n = cio_readline(s, line, sizeof line)) <= 0)
            return n == 0 ? CIO_EINCOMPLETE : (int)n; /* 0: the server hung up */
        printf("%.*s", (int)n, line);
    }
    int rc = cio_write_eof(s); /* writer.write_eof(): "no more lines" */
    if (rc < 0)
        return rc;
    while ((n = cio_readline(s, line, sizeof line)) > 0) /* until the server closes */
        printf("%.*s", (int)n, line);
    return (int)n;
}

static intptr_t client(void *arg)
{
    (void)arg;
    cio_stream *s;
    int rc = cio_open_connection(&s, "127.0.0.1", port, NULL);
    if (rc < 0) {
        fprintf(stderr, "connect to 127.0.0.1 port %u: %s (%s)\n", port, cio_strerror(rc),
                cio_err_name(rc));
        return 1;
    }
    rc = talk(s);
    if (rc < 0)
        fprintf(stderr, "talk: %s\n", cio_strerror(rc));
    cio_close(s);                    /* writer.close() */
    int closed = cio_wait_closed(s); /* await writer.wait_closed() */
    if (closed < 0)
        fprintf(stderr, "close: %s\n", cio_strerror(closed));
    cio_stream_release(s); /* and the handle is given back */
    return rc < 0 || closed < 0;
}

int main(int argc, char **argv)
{
    if (argc < 3 || atoi(argv[1]) <= 0 || atoi(argv[1]) > 65535) {
        fprintf(stderr, "usage: step4 PORT WORD...\n");
        return 2;
    }
    port = (uint16_t)atoi(argv[1]);
    words = argv + 2;
    nwords = argc - 2;
    intptr_t rc = cio_run(client, NULL);
    if (rc < 0)
        fprintf(stderr, "step4: %s\n", cio_strerror((int)rc));
    return rc == 0 ? 0 : 1;
}
