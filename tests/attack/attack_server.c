/* The server of the attack tests: a cio echo or line server in a child
 * process (see attack.h), stopped by closing a pipe. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attack.h"
#include "cio.h"

static void handle_echo(cio_stream *s, void *arg)
{
    (void)arg;
    char buf[16384];
    ssize_t n;
    while ((n = cio_read(s, buf, sizeof(buf))) > 0)
        if (cio_write(s, buf, (size_t)n) || cio_drain(s))
            break;
}

/* "big N": N bytes of 'x', in chunks, each drained. */
static int send_big(cio_stream *s, size_t n)
{
    static char chunk[65536];
    if (!chunk[0])
        memset(chunk, 'x', sizeof(chunk));
    int rc = 0;
    while (n && rc == 0) {
        size_t k = n < sizeof(chunk) ? n : sizeof(chunk);
        rc = cio_write(s, chunk, k);
        if (rc == 0)
            rc = cio_drain(s);
        n -= k;
    }
    return rc;
}

static void handle_line(cio_stream *s, void *arg)
{
    (void)arg;
    for (;;) {
        const char *line;
        ssize_t n = cio_readline_view(s, &line);
        unsigned long big;
        int rc;
        if (n == CIO_ELIMIT)
            rc = cio_write(s, "error: line too long\n", 21);
        else if (n <= 0)
            break;
        else if (n < 40 && sscanf(line, "big %lu\n", &big) == 1)
            rc = send_big(s, big);
        else
            rc = cio_write(s, line, (size_t)n);
        if (rc == 0)
            rc = cio_drain(s);
        if (rc)
            break;
    }
}

static struct {
    const struct atk_server_cfg *cfg;
    const char *dir;
    int ready_fd, stop_fd;
} child;

static intptr_t serve(void *arg)
{
    (void)arg;
    const struct atk_server_cfg *cfg = child.cfg;
    cio_server_opts so = CIO_SERVER_OPTS_INIT;
    so.backlog = 4096;
    if (cfg->limit)
        so.stream.limit = cfg->limit;
    int rc = 0;
    if (cfg->tls) {
        char cert[64], key[64];
        snprintf(cert, sizeof(cert), "%s/cert.pem", child.dir);
        snprintf(key, sizeof(key), "%s/key.pem", child.dir);
        cio_tls_server_opts to = CIO_TLS_SERVER_OPTS_INIT;
        to.certfile = cert;
        to.keyfile = key;
        rc = cio_tls_server_ctx(&so.tls, &to);
    }
    /* One plain listener, and a TLS one beside it when asked. */
    cio_conn_handler h = cfg->mode == ATK_ECHO ? handle_echo : handle_line;
    cio_server *srv[2] = {NULL, NULL};
    uint16_t ports[2] = {0, 0};
    cio_tls_ctx *tls = so.tls;
    so.tls = NULL;
    for (int i = 0; i < 1 + (tls != NULL) && rc == 0; i++) {
        rc = cio_start_server(&srv[i], h, NULL, "127.0.0.1", 0, &so);
        ports[i] = rc ? 0 : cio_server_port(srv[i]);
        so.tls = tls; /* a handshake timeout without TLS is -EINVAL */
        if (cfg->handshake_timeout > 0)
            so.tls_handshake_timeout = cfg->handshake_timeout;
    }
    cio_tls_ctx_free(tls);
    if (rc)
        fprintf(stderr, "attack server: %s\n", cio_strerror(rc));
    if (write(child.ready_fd, ports, sizeof(ports)) != sizeof(ports))
        rc = -EIO;
    close(child.ready_fd);
    if (rc == 0)
        rc = cio_wait_readable(child.stop_fd); /* until the test closes the pipe */
    for (int i = 0; i < 2; i++)
        if (srv[i]) {
            cio_server_abort_clients(srv[i]);
            cio_server_shutdown(srv[i], 5.0);
            cio_server_free(srv[i]);
        }
    return rc ? 2 : 0;
}

void atk_server_start(struct atk_server *srv, const struct atk_server_cfg *cfg)
{
    memset(srv, 0, sizeof(*srv));
    if (cfg->tls) {
        strcpy(srv->dir, "/tmp/cio-attack-XXXXXX");
        cr_assert_not_null(mkdtemp(srv->dir));
        char cmd[512];
        snprintf(cmd, sizeof(cmd),
                 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2"
                 " -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1"
                 " -keyout %s/key.pem -out %s/cert.pem 2>/dev/null",
                 srv->dir, srv->dir);
        cr_assert_eq(system(cmd), 0, "openssl req failed");
    }
    int ready[2], stop[2];
    cr_assert_eq(pipe(ready), 0);
    cr_assert_eq(pipe(stop), 0);
    fflush(NULL);
    srv->pid = fork();
    cr_assert_geq(srv->pid, 0);
    if (srv->pid == 0) {
        close(ready[0]);
        close(stop[1]);
        if (cfg->nofile) {
            struct rlimit rl = {(rlim_t)cfg->nofile, (rlim_t)cfg->nofile};
            if (setrlimit(RLIMIT_NOFILE, &rl))
                _exit(3);
        }
        child.cfg = cfg;
        child.dir = srv->dir;
        child.ready_fd = ready[1];
        child.stop_fd = stop[0];
        _exit((int)cio_run(serve, NULL));
    }
    close(ready[1]);
    close(stop[0]);
    srv->stop_fd = stop[1];
    uint16_t ports[2];
    ssize_t n = read(ready[0], ports, sizeof(ports));
    close(ready[0]);
    cr_assert(n == sizeof(ports) && ports[0] && (ports[1] || !cfg->tls),
              "the attack server did not start");
    srv->port = ports[0];
    srv->tls_port = ports[1];
}

void atk_server_stop(struct atk_server *srv)
{
    close(srv->stop_fd);
    int status;
    cr_assert_eq(waitpid(srv->pid, &status, 0), srv->pid);
    if (srv->dir[0]) {
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", srv->dir);
        cr_assert_eq(system(cmd), 0);
    }
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "attack server status %#x", status);
}
