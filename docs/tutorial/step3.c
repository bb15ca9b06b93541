/* Tutorial step 3: a line protocol with readline and a limit
 * (docs/tutorial.md).  Each line comes back in capitals. */
#include <cio.h>
#include <ctype.h>
#include <stdio.h>

#define MAX_LINE 32 /* the stream limit: longer lines are refused */

static void shout(cio_stream *s, void *arg)
{
    (void)arg;
    char line[MAX_LINE + 1]; /* limit + "\n": CIO_EBUFSIZE cannot happen */
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = cio_readline(s, line, sizeof line)) != 0) {
        if (n == CIO_ELIMIT) { /* the rest of that line is skipped */
            rc = cio_write(s, "error: line too long\n", 21);
        } else if (n < 0) { /* -ECONNRESET, ... */
            rc = (int)n;
        } else {
            for (ssize_t i = 0; i < n; i++)
                line[i] = (char)toupper((unsigned char)line[i]);
            rc = cio_write(s, line, (size_t)n);
            if (rc == 0 && line[n - 1] != '\n') /* the last line, cut short by EOF */
                rc = cio_write(s, "\n", 1);
        }
        if (rc == 0)
            rc = cio_drain(s);
    }
    if (rc == 0) /* readline returned 0: EOF, the client has no more to say */
        rc = cio_write(s, "bye\n", 4);
    if (rc < 0)
        printf("client lost: %s\n", cio_strerror(rc));
}

static intptr_t serve(void *arg)
{
    (void)arg;
    cio_server_opts o = CIO_SERVER_OPTS_INIT;
    o.stream.limit = MAX_LINE; /* start_server(..., limit=32) */
    cio_server *srv;
    int rc = cio_start_server(&srv, shout, NULL, "127.0.0.1", 8888, &o);
    if (rc < 0) {
        fprintf(stderr, "start_server: %s\n", cio_strerror(rc));
        return 1;
    }
    printf("listening on 127.0.0.1:%u\n", cio_server_port(srv));
    rc = cio_server_serve_forever(srv);
    cio_server_free(srv);
    return rc < 0 ? 1 : 0;
}

int main(void)
{
    intptr_t rc = cio_run(serve, NULL);
    if (rc < 0)
        fprintf(stderr, "step3: %s\n", cio_strerror((int)rc));
    return rc == 0 ? 0 : 1;
}
