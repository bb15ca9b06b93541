/* Tutorial step 8: the step 6 server over TLS (docs/tutorial.md).
 * Usage: step8_server CERT.pem KEY.pem   (listens on 127.0.0.1:8443) */
#include <cio.h>
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

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
    /* EOF: from the client, or from cio_server_close_clients at shutdown,
     * which closed the stream (cio_is_closing) and so our write side. */
    if (rc == 0 && !cio_is_closing(s))
        rc = cio_write(s, "bye\n", 4);
    if (rc < 0)
        printf("client lost: %s\n", cio_strerror(rc));
}

/* loop.add_signal_handler(sig, server.close), with a signalfd: the task
 * sleeps until a signal is pending, then closes the server. */
struct watch {
    int fd;
    cio_server *srv;
};

static intptr_t watch_signals(void *arg)
{
    struct watch *w = arg;
    struct signalfd_siginfo si;
    int rc;
    while ((rc = cio_wait_readable(w->fd)) == 0) {
        if (read(w->fd, &si, sizeof si) == (ssize_t)sizeof si) {
            printf("%s: shutting down\n", strsignal((int)si.ssi_signo));
            cio_server_close(w->srv); /* serve_forever returns 0 */
            break;
        }
    }
    return rc; /* -ECANCELED if the server stopped for another reason */
}

/* One line on stderr; for the CIO_ETLS* codes, with OpenSSL's reason. */
static void report(const char *what, int rc, const cio_stream *s)
{
    if (rc <= CIO_ETLS && rc >= CIO_ETLSNOTLS)
        fprintf(stderr, "%s: %s (%s)\n", what, cio_strerror(rc), cio_tls_error_reason(s));
    else
        fprintf(stderr, "%s: %s\n", what, cio_strerror(rc));
}

struct tls_files {
    const char *cert, *key;
    sigset_t signals;
};

static intptr_t serve(void *arg)
{
    struct tls_files *files = arg;
    cio_tls_server_opts t = CIO_TLS_SERVER_OPTS_INIT;
    t.certfile = files->cert;
    t.keyfile = files->key;
    cio_server_opts o = CIO_SERVER_OPTS_INIT;
    o.stream.limit = MAX_LINE;
    o.tls_handshake_timeout = 10;            /* drop clients that never finish it */
    int rc = cio_tls_server_ctx(&o.tls, &t); /* ssl.SSLContext + load_cert_chain */
    if (rc < 0) { /* -ENOENT, -EACCES, CIO_ETLS: bad PEM, key not matching */
        report("certificate or key", rc, NULL);
        return 1;
    }
    cio_server *srv;
    rc = cio_start_server(&srv, shout, NULL, "127.0.0.1", 8443, &o);
    cio_tls_ctx_free(o.tls); /* the server holds its own reference */
    if (rc < 0) {
        fprintf(stderr, "start_server: %s\n", cio_strerror(rc));
        return 1;
    }
    printf("listening on 127.0.0.1:%u (TLS)\n", cio_server_port(srv));
    struct watch w = {signalfd(-1, &files->signals, SFD_NONBLOCK | SFD_CLOEXEC), srv};
    cio_task *watcher = NULL;
    if (w.fd < 0)
        rc = -errno;
    else
        rc = cio_spawn(&watcher, watch_signals, &w, NULL);
    if (rc == 0)
        rc = cio_server_serve_forever(srv);
    if (rc < 0)
        fprintf(stderr, "serve: %s\n", cio_strerror(rc));

    cio_server_close_clients(srv);
    cio_server_shutdown(srv, 5.0);
    cio_server_free(srv);
    if (watcher) {
        cio_cancel(watcher);
        cio_join(watcher, NULL);
    }
    if (w.fd >= 0)
        close(w.fd);
    return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: step8_server CERT.pem KEY.pem\n");
        return 2;
    }
    struct tls_files files = {.cert = argv[1], .key = argv[2]};
    sigemptyset(&files.signals);
    sigaddset(&files.signals, SIGINT);
    sigaddset(&files.signals, SIGTERM);
    sigprocmask(SIG_BLOCK, &files.signals, NULL);

    intptr_t rc = cio_run(serve, &files);
    if (rc < 0)
        fprintf(stderr, "step8_server: %s\n", cio_strerror((int)rc));
    return rc == 0 ? 0 : 1;
}
