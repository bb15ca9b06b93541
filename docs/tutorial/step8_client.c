/* Tutorial step 8: the step 4 client over TLS (docs/tutorial.md).
 * Usage: step8_client HOST PORT CAFILE WORD... */
#include <cio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *host, *cafile;
static uint16_t port;
static int nwords;
static char **words;

/* One line on stderr; for the CIO_ETLS* codes, with OpenSSL's reason. */
static void report(const char *what, int rc, const cio_stream *s)
{
    if (rc <= CIO_ETLS && rc >= CIO_ETLSNOTLS)
        fprintf(stderr, "%s: %s (%s)\n", what, cio_strerror(rc), cio_tls_error_reason(s));
    else
        fprintf(stderr, "%s: %s\n", what, cio_strerror(rc));
}

/* One line out, one line back, for each word.  TLS has no half-close
 * (cio_write_eof is -ENOTSUP), so the client just closes at the end. */
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
            return n == 0 ? CIO_EINCOMPLETE : (int)n;
        printf("%.*s", (int)n, line);
    }
    return 0;
}

static intptr_t client(void *arg)
{
    (void)arg;
    cio_tls_client_opts t = CIO_TLS_CLIENT_OPTS_INIT;
    t.cafile = cafile; /* trust this CA instead of the system's */
    cio_connect_opts o = CIO_CONNECT_OPTS_INIT;
    int rc = cio_tls_client_ctx(&o.tls, &t); /* ssl.create_default_context(cafile=...) */
    if (rc < 0) {
        report(cafile, rc, NULL); /* -ENOENT, CIO_ETLS for a bad PEM file, ... */
        return 1;
    }
    cio_stream *s;
    rc = cio_open_connection(&s, host, port, &o); /* connect + handshake */
    cio_tls_ctx_free(o.tls);                      /* the stream holds its own reference */
    if (rc < 0) {
        report(cio_err_name(rc), rc, NULL); /* no stream: the thread's latest reason */
        return 1;
    }
    printf("%s, %s\n", cio_stream_tls_version(s), cio_stream_tls_cipher(s));
    rc = talk(s);
    if (rc < 0)
        report("talk", rc, s);
    cio_close(s);                    /* close_notify, then the socket */
    int closed = cio_wait_closed(s); /* 0 once the server's close_notify came back */
    if (closed < 0)
        fprintf(stderr, "close: %s\n", cio_strerror(closed));
    cio_stream_release(s);
    return rc < 0 || closed < 0;
}

int main(int argc, char **argv)
{
    if (argc < 5 || atoi(argv[2]) <= 0 || atoi(argv[2]) > 65535) {
        fprintf(stderr, "usage: step8_client HOST PORT CAFILE WORD...\n");
        return 2;
    }
    host = argv[1];
    port = (uint16_t)atoi(argv[2]);
    cafile = argv[3];
    words = argv + 4;
    nwords = argc - 4;
    intptr_t rc = cio_run(client, NULL);
    if (rc < 0)
        fprintf(stderr, "step8_client: %s\n", cio_strerror((int)rc));
    return rc == 0 ? 0 : 1;
}
