/* Servers, the running half: one accept task per listening socket, one
 * task per connection running the handler, and the calls that wait for
 * them or end them (serve_forever, wait_closed, close_clients,
 * abort_clients, shutdown). */
#include <stdio.h>

#include "core/debug.h"
#include "net/net.h"
#include "stream/server.h"
#include "stream/stream_tls.h"

enum { ACCEPT_BURST = 64 }; /* accepts in a row before the accept task yields */

/* Accepting stops this long after EMFILE & co: the condition outlasts a
 * retry, and retrying at once would spin the loop (SPEC: never spin). */
#define ACCEPT_PAUSE 1.0

/* ---- connection tasks --------------------------------------------------------- */

static intptr_t conn_main(void *arg)
{
    srv_conn *c = arg;
    cio_server *srv = c->srv;
    /* The TLS handshake runs here, in the connection's own task, so a
     * slow one holds up no one else.  A failed one closes the stream and
     * the handler never sees it; debug mode says why, as asyncio does. */
    int rc = srv->opts.tls ? cio__tls_server_upgrade(c->s, &srv->opts) : 0;
    if (rc == 0)
        srv->handler(c->s, srv->arg);
    else if (rc != -ECANCELED)
        cio__debug_note(cio__loop(), "%s: TLS handshake failed: %s%s%s", cio_task_name(c->task),
                        cio_strerror(rc), *cio__stream_tls_reason(c->s) ? ": " : "",
                        cio__stream_tls_reason(c->s));
    cio__list_remove(&c->node);
    srv->nconns--;
    cio_stream_release(c->s); /* closes gracefully unless the handler retained it */
    cio_detach(c->task);
    cio__free(c);
    cio__server_task_gone(srv); /* may free srv */
    return 0;
}

/* Start a task for an accepted fd; on any failure the connection is
 * dropped (the peer sees it closed) and accepting goes on. */
static void conn_start(cio_server *srv, srv_listener *l, int fd, const struct sockaddr *peer,
                       socklen_t plen)
{
    int one = 1;
    if (srv->opts.keep_alive &&
        cio__setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) < 0) {
        cio__close(fd);
        return;
    }
    srv_conn *c = cio__calloc(1, sizeof(*c));
    if (!c) {
        cio__close(fd);
        return;
    }
    if (cio__stream_new(&c->s, fd, l->family, &srv->opts.stream) != 0) {
        cio__free(c); /* the fd was closed by cio__stream_new */
        return;
    }
    char addr[64], name[80];
    if (cio_addr_format(peer, plen, addr, sizeof(addr)) <= 0)
        snprintf(addr, sizeof(addr), "%s", l->family == AF_UNIX ? "unix" : "?");
    snprintf(name, sizeof(name), "cio-conn %s", addr);
    c->srv = srv;
    if (cio_spawn(&c->task, conn_main, c, &(cio_task_opts){.name = name}) != 0) {
        cio_abort(c->s);
        cio_stream_release(c->s);
        cio__free(c);
        return;
    }
    cio__list_push_back(&srv->conns, &c->node);
    srv->nconns++;
}

/* ---- accept tasks ---------------------------------------------------------------- */

/* Failures that concern one pending connection (accept(2) lists the
 * network errors Linux passes on): skip it and go on. */
static bool accept_transient(int e)
{
    switch (e) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case EPERM:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
        return true;
    default:
        return false;
    }
}

static intptr_t accept_main(void *arg)
{
    srv_listener *l = arg;
    cio_server *srv = l->srv;
    unsigned burst = 0;
    /* srv->closed is rechecked after every wait: close() may have run. */
    while (!srv->closed) {
        if (burst >= ACCEPT_BURST) {
            /* A flood of connections (or of transient errors) must not
             * starve the tasks already running. */
            burst = 0;
            if (cio_yield() != 0)
                break;
            continue;
        }
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        cio__op op = {.kind = CIO__OP_ACCEPT,
                      .u.accept = {.addr = (struct sockaddr *)&peer, .len = &plen}};
        /* Completes at once while connections are queued, else waits. */
        int fd = (int)cio__io_run(&l->io, &op);
        if (fd >= 0) {
            burst++;
            conn_start(srv, l, fd, (struct sockaddr *)&peer, plen);
            continue;
        }
        int e = -fd;
        if (e == ECANCELED || e == ETIMEDOUT || e == EBADF)
            break;
        if (accept_transient(e)) {
            burst++;
            continue;
        }
        /* EMFILE, ENFILE, ENOBUFS, ENOMEM (the process or the system is
         * out of something), or the listening socket itself failing:
         * wait, never spin. */
        burst = 0;
        if (cio_sleep(ACCEPT_PAUSE) != 0)
            break;
    }
    cio_task *self = l->task;
    l->task = NULL;
    cio_detach(self);
    srv->naccept--;
    cio__server_task_gone(srv); /* may free srv (and l) */
    return 0;
}

int cio__server_spawn_acceptors(cio_server *srv)
{
    for (size_t i = 0; i < srv->nls; i++) {
        srv_listener *l = &srv->ls[i];
        if (l->task)
            continue;
        int rc = cio_spawn(&l->task, accept_main, l, &(cio_task_opts){.name = "cio-accept"});
        if (rc)
            return rc; /* the ones started keep running; a retry starts the rest */
        srv->naccept++;
    }
    return 0;
}

void cio__server_task_gone(cio_server *srv)
{
    if (srv->closed && srv->nconns <= 1)
        cio__wake_all(&srv->done_waiters, 0);
    cio__server_maybe_free(srv);
}

/* ---- waiting ---------------------------------------------------------------------- */

static srv_conn *conn_of_task(cio_server *srv, cio_task *t)
{
    cio__node *n, *tmp;
    cio__list_each_safe(n, tmp, &srv->conns)
    {
        srv_conn *c = cio__container_of(n, srv_conn, node);
        if (c->task == t)
            return c;
    }
    return NULL;
}

/* Wait until the server is closed and its connections have ended.  A
 * handler waiting for its own server does not wait for itself. */
static int wait_done(cio_server *srv)
{
    size_t mine = conn_of_task(srv, cio__current()) ? 1 : 0;
    while (!srv->closed || srv->nconns > mine) {
        cio__waiter w;
        int rc = cio__wait_on(&srv->done_waiters, &w);
        if (rc)
            return rc;
    }
    return 0;
}

int cio_server_wait_closed(cio_server *srv)
{
    if (!cio__current())
        return -EPERM;
    srv->nwaiters++;
    int rc = wait_done(srv);
    srv->nwaiters--;
    cio__server_maybe_free(srv);
    return rc;
}

int cio_server_serve_forever(cio_server *srv)
{
    if (!cio__current())
        return -EPERM;
    if (srv->closed)
        return -EBADF;
    if (srv->forever)
        return -EBUSY;
    int rc = cio_server_start_serving(srv);
    if (rc)
        return rc;
    srv->forever = cio__current();
    srv->nwaiters++;
    while (!srv->closed && rc == 0) {
        cio__waiter w;
        rc = cio__wait_on(&srv->close_waiters, &w);
    }
    srv->forever = NULL;
    /* Cancelled (or timed out): close, but do not wait for the
     * connections as asyncio does — that wait is what hangs on an idle
     * client; cio_server_shutdown is the bounded way. */
    if (rc)
        cio_server_close(srv);
    srv->nwaiters--;
    cio__server_maybe_free(srv);
    return rc;
}

/* ---- ending connections -------------------------------------------------------------- */

void cio_server_close_clients(cio_server *srv)
{
    cio__node *n, *tmp;
    cio__list_each_safe(n, tmp, &srv->conns)
    {
        cio_close(cio__container_of(n, srv_conn, node)->s);
    }
}

void cio_server_abort_clients(cio_server *srv)
{
    cio__node *n, *tmp;
    cio__list_each_safe(n, tmp, &srv->conns)
    {
        cio_abort(cio__container_of(n, srv_conn, node)->s);
    }
}

int cio_server_shutdown(cio_server *srv, double grace)
{
    cio_task *self = cio__current();
    if (!self)
        return -EPERM;
    cio_server_close(srv);
    srv->nwaiters++;
    cio_timeout scope;
    cio_timeout_enter(&scope, grace);
    int rc = wait_done(srv);
    if (cio_timeout_exit(&scope) && rc == -ETIMEDOUT)
        rc = 0; /* the grace period is over: expected, not an error */
    if (rc == 0 && srv->nconns == 0) {
        srv->nwaiters--;
        cio__server_maybe_free(srv);
        return 0;
    }
    /* Grace is over (or the caller was interrupted): abort the rest. */
    cio__node *n, *tmp;
    cio__list_each_safe(n, tmp, &srv->conns)
    {
        srv_conn *c = cio__container_of(n, srv_conn, node);
        if (c->task == self)
            continue;
        cio_abort(c->s);
        cio_cancel(c->task);
    }
    /* Cancellation is sticky, so these tasks end; wait for them even if
     * the caller itself is being cancelled. */
    cio_timeout shield;
    cio_shield_enter(&shield, -1);
    wait_done(srv);
    cio_timeout_exit(&shield);
    srv->nwaiters--;
    cio__server_maybe_free(srv);
    return rc;
}
