/* Tutorial step 6: the step 3 server, stopped gracefully by SIGINT or
 * SIGTERM (docs/tutorial.md). */
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

static intptr_t serve(void *arg)
{
    sigset_t *signals = arg;
    cio_server_opts o = CIO_SERVER_OPTS_INIT;
    o.stream.limit = MAX_LINE;
    cio_server *srv;
    int rc = cio_start_server(&srv, shout, NULL, "127.0.0.1", 8888, &o);
    if (rc < 0) {
        fprintf(stderr, "start_server: %s\n", cio_strerror(rc));
        return 1;
    }
    printf("listening on 127.0.0.1:%u\n", cio_server_port(srv));
    struct watch w = {signalfd(-1, signals, SFD_NONBLOCK | SFD_CLOEXEC), srv};
    cio_task *watcher = NULL;
    if (w.fd < 0)
        rc = -errno;
    else
        rc = cio_spawn(&watcher, watch_signals, &w, NULL);
    if (rc == 0)
        rc = cio_server_serve_forever(srv); /* until the watcher closes it */
    if (rc < 0)
        fprintf(stderr, "serve: %s\n", cio_strerror(rc));

    cio_server_close_clients(srv); /* idle clients' readline returns 0 */
    cio_server_shutdown(srv, 5.0); /* at most 5 s more, then abort */
    cio_server_free(srv);
    if (watcher) {
        cio_cancel(watcher); /* in case no signal came */
        cio_join(watcher, NULL);
    }
    if (w.fd >= 0)
        close(w.fd);
    return rc < 0 ? 1 : 0;
}

int main(void)
{
    /* Block the signals in every thread (threads inherit the mask): only
     * the signalfd will see them. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigprocmask(SIG_BLOCK, &signals, NULL);

    intptr_t rc = cio_run(serve, &signals);
    if (rc < 0)
        fprintf(stderr, "step6: %s\n", cio_strerror((int)rc));
    return rc == 0 ? 0 : 1;
}
