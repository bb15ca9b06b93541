/* The soak's server process: an echo server (read, write, drain) and a
 * line server (readline, write, drain) on cio, each over TCP, Unix and
 * TLS.  It counts how its handlers ended and prints that when stopped. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "soak.h"

static struct soak_tally endings; /* handler endings by code: 0 = peer EOF */

static void handle_echo(cio_stream *s, void *arg)
{
    (void)arg;
    char buf[SOAK_MAX_CHUNK];
    ssize_t n;
    while ((n = cio_read(s, buf, sizeof(buf))) > 0) {
        int rc = cio_write(s, buf, (size_t)n);
        if (rc == 0)
            rc = cio_drain(s);
        if (rc) {
            n = rc;
            break;
        }
    }
    soak_tally_add(&endings, (int)n);
}

static void handle_line(cio_stream *s, void *arg)
{
    (void)arg;
    const char *line;
    ssize_t n;
    while ((n = cio_readline_view(s, &line)) > 0) {
        int rc = cio_write(s, line, (size_t)n);
        if (rc == 0)
            rc = cio_drain(s);
        if (rc) {
            n = rc;
            break;
        }
    }
    soak_tally_add(&endings, (int)n);
}

static struct {
    int ready_fd, stop_fd;
    const char *dir, *cert, *key;
} cfg;

static int start(cio_server **srv, enum soak_transport t, enum soak_kind k, cio_tls_ctx *tls)
{
    cio_conn_handler h = k == SOAK_ECHO ? handle_echo : handle_line;
    cio_server_opts so = CIO_SERVER_OPTS_INIT;
    so.backlog = 4096;
    if (k == SOAK_LINE)
        so.stream.limit = SOAK_MAX_MSG;
    if (t == SOAK_TLS)
        so.tls = tls;
    if (t != SOAK_UNIX)
        return cio_start_server(srv, h, NULL, "127.0.0.1", 0, &so);
    char path[256];
    snprintf(path, sizeof(path), "%s/%s.sock", cfg.dir, k == SOAK_ECHO ? "echo" : "line");
    return cio_start_unix_server(srv, h, NULL, path, &so);
}

static intptr_t serve(void *arg)
{
    (void)arg;
    cio_tls_server_opts to = CIO_TLS_SERVER_OPTS_INIT;
    to.certfile = cfg.cert;
    to.keyfile = cfg.key;
    cio_tls_ctx *tls;
    int rc = cio_tls_server_ctx(&tls, &to);
    if (rc) {
        fprintf(stderr, "soak server: tls context: %s\n", cio_strerror(rc));
        return 1;
    }
    cio_server *srv[SOAK_NSERVICES] = {0};
    struct soak_addrs addrs = {{0}};
    for (int t = 0; t < SOAK_NTRANSPORTS && rc == 0; t++)
        for (int k = 0; k < SOAK_NKINDS && rc == 0; k++) {
            int i = soak_service(t, k);
            rc = start(&srv[i], t, k, tls);
            if (rc == 0)
                addrs.port[i] = cio_server_port(srv[i]);
        }
    cio_tls_ctx_free(tls);
    if (rc)
        fprintf(stderr, "soak server: start: %s\n", cio_strerror(rc));
    else if (write(cfg.ready_fd, &addrs, sizeof(addrs)) != (ssize_t)sizeof(addrs))
        rc = -EIO;
    close(cfg.ready_fd);
    /* Serve until the load side closes its end of the stop pipe. */
    if (rc == 0)
        rc = cio_wait_readable(cfg.stop_fd);
    for (int i = 0; i < SOAK_NSERVICES; i++)
        if (srv[i]) {
            cio_server_abort_clients(srv[i]);
            cio_server_shutdown(srv[i], 5.0);
            cio_server_free(srv[i]);
        }
    soak_tally_print(&endings, "server handler endings (0 = client EOF)");
    return rc ? 1 : 0;
}

int soak_server_main(int ready_fd, int stop_fd, const char *dir, const char *cert, const char *key)
{
    cfg.ready_fd = ready_fd;
    cfg.stop_fd = stop_fd;
    cfg.dir = dir;
    cfg.cert = cert;
    cfg.key = key;
    return (int)cio_run(serve, NULL);
}
