/* Servers, the setup half: asyncio.start_server / start_unix_server
 * (resolve, bind, listen), the socket accessors, close and free.  The
 * accept loops, connection tasks and the waiting calls are in
 * server_accept.c.
 *
 * Binding several addresses with port 0: the first bind picks the port
 * and the others reuse it, so "host NULL, port 0" gives one port on both
 * IPv4 and IPv6; if that port is taken in another family, that address
 * gets its own (asyncio always gives each its own). */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/net.h"
#include "stream/server.h"
#include "stream/stream_tls.h"

/* ---- options -------------------------------------------------------------- */

static int opts_check(const cio_server_opts *o)
{
    int rc = cio__stream_opts_check(&o->stream);
    if (rc)
        return rc;
    if (o->backlog < 0)
        return -EINVAL;
    if (o->family != AF_UNSPEC && o->family != AF_INET && o->family != AF_INET6)
        return -EINVAL;
    if (o->tls) {
#ifdef CIO_NO_TLS
        return -ENOTSUP; /* built without TLS */
#else
        /* The handshake runs in each connection task (server_accept.c). */
        if (!(o->tls_handshake_timeout > 0) || !(o->tls_shutdown_timeout > 0) ||
            !cio_tls_ctx_is_server(o->tls))
            return -EINVAL;
#endif
    } else {
        /* TLS timeouts without TLS are a mistake worth reporting (asyncio:
         * ValueError). */
        const cio_server_opts defaults = CIO_SERVER_OPTS_INIT;
        if (o->tls_handshake_timeout != defaults.tls_handshake_timeout ||
            o->tls_shutdown_timeout != defaults.tls_shutdown_timeout)
            return -EINVAL;
    }
    return 0;
}

/* The checks both start functions begin with; a NULL *opts becomes the
 * defaults. */
static int start_check(cio_server **out, cio_conn_handler handler, const cio_server_opts **opts)
{
    static const cio_server_opts defaults = CIO_SERVER_OPTS_INIT;
    if (!*opts)
        *opts = &defaults;
    if (!out || !handler)
        return -EINVAL;
    if (!cio__current())
        return -EPERM;
    return opts_check(*opts);
}

/* ---- creating and freeing -------------------------------------------------- */

static int srv_new(cio_server **out, cio_conn_handler handler, void *arg,
                   const cio_server_opts *opts, size_t nls)
{
    cio_server *srv = cio__calloc(1, sizeof(*srv));
    if (!srv)
        return -ENOMEM;
    srv->ls = cio__calloc(nls, sizeof(*srv->ls));
    if (!srv->ls) {
        cio__free(srv);
        return -ENOMEM;
    }
    srv->handler = handler;
    srv->arg = arg;
    srv->opts = *opts;
    /* Every accepted connection needs the context: hold it while we live,
     * so the caller may free theirs once the server is started. */
    cio__tls_ctx_hold(opts->tls);
    cio__list_init(&srv->conns);
    cio__list_init(&srv->close_waiters);
    cio__list_init(&srv->done_waiters);
    *out = srv;
    return 0;
}

static void srv_free_now(cio_server *srv)
{
    cio__tls_ctx_drop(srv->opts.tls);
    cio__free(srv->unix_path);
    cio__free(srv->ls);
    cio__free(srv);
}

void cio__server_maybe_free(cio_server *srv)
{
    if (srv->detached && srv->nconns == 0 && srv->naccept == 0 && srv->nwaiters == 0)
        srv_free_now(srv);
}

/* Adopt a bound, listening fd as listener number srv->nls. */
static int srv_add_listener(cio_server *srv, int fd, int family)
{
    srv_listener *l = &srv->ls[srv->nls];
    l->srv = srv;
    l->fd = fd;
    l->family = family;
    l->addrlen = sizeof(l->addr);
    if (cio__getsockname(fd, (struct sockaddr *)&l->addr, &l->addrlen) < 0) {
        int rc = cio__err();
        cio__close(fd);
        return rc;
    }
    int rc = cio__io_open(&l->io, fd);
    if (rc) {
        cio__close(fd);
        return rc;
    }
    l->io_open = true;
    srv->nls++;
    return 0;
}

/* Finish start_server: start accepting unless told not to.  On failure
 * the server is closed and freed (accept tasks already spawned see it
 * closed and free it when they end). */
static int srv_finish(cio_server **out, cio_server *srv)
{
    if (srv->opts.start_serving) {
        int rc = cio_server_start_serving(srv);
        if (rc) {
            cio_server_free(srv);
            return rc;
        }
    }
    *out = srv;
    return 0;
}

/* ---- TCP -------------------------------------------------------------------- */

static bool unassignable(int err)
{
    return err == -EADDRNOTAVAIL || err == -EAFNOSUPPORT || err == -EPROTONOSUPPORT;
}

/* A listening TCP socket on a; returns the fd or an error. */
static int bind_tcp(const cio__addr *a, const cio_server_opts *o)
{
    int one = 1;
    int fd = cio__socket_for(a->family, SOCK_STREAM);
    if (fd < 0)
        return fd;
    if (o->reuse_address && cio__setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        goto fail;
    if (o->reuse_port && cio__setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        goto fail;
    /* Without V6ONLY the wildcard "::" would also claim the IPv4 port
     * that the separate IPv4 socket needs. */
    if (a->family == AF_INET6 &&
        cio__setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
        goto fail;
    if (cio__bind(fd, (const struct sockaddr *)&a->sa, a->len) < 0)
        goto fail;
    if (cio__listen(fd, o->backlog) < 0)
        goto fail;
    return fd;
fail:;
    int rc = cio__err();
    cio__close(fd);
    return rc;
}

static void set_port(cio__addr *a, uint16_t port)
{
    if (a->family == AF_INET)
        ((struct sockaddr_in *)&a->sa)->sin_port = htons(port);
    else if (a->family == AF_INET6)
        ((struct sockaddr_in6 *)&a->sa)->sin6_port = htons(port);
}

/* Resolve every comma-separated element of host (NULL or "" = every
 * interface) and append the addresses to *all. */
static int resolve_all(const char *host, uint16_t port, int family, cio__addr **all, size_t *n)
{
    char *copy = NULL, *save = NULL, *elem;
    bool wildcard = !host || !host[0];
    if (!wildcard && !(copy = cio__strdup(host)))
        return -ENOMEM;
    *all = NULL;
    *n = 0;
    int rc = 0;
    for (elem = wildcard ? NULL : strtok_r(copy, ",", &save); rc == 0;
         elem = wildcard ? NULL : strtok_r(NULL, ",", &save)) {
        if (!wildcard && !elem)
            break;
        if (elem) {
            while (*elem == ' ' || *elem == '\t')
                elem++;
            char *end = elem + strlen(elem);
            while (end > elem && (end[-1] == ' ' || end[-1] == '\t'))
                *--end = '\0';
            if (!*elem)
                continue; /* "a,,b" */
        }
        cio__addr *list;
        size_t k;
        rc = cio__resolve(elem, port, family, AI_PASSIVE, &list, &k);
        if (rc)
            break;
        cio__addr *grown = cio__reallocarray(*all, *n + k, sizeof(**all));
        if (grown) {
            memcpy(grown + *n, list, k * sizeof(*list));
            *all = grown;
            *n += k;
        } else {
            rc = -ENOMEM;
        }
        cio__addrs_free(list);
        if (wildcard)
            break;
    }
    cio__free(copy);
    if (rc == 0 && *n == 0)
        rc = -EINVAL; /* only separators */
    if (rc) {
        cio__free(*all);
        *all = NULL;
    }
    return rc;
}

static void close_listeners(cio_server *srv)
{
    for (size_t i = 0; i < srv->nls; i++) {
        if (srv->ls[i].io_open)
            cio__io_close(&srv->ls[i].io);
        cio__close(srv->ls[i].fd);
    }
}

int cio_start_server(cio_server **out, cio_conn_handler handler, void *arg, const char *host,
                     uint16_t port, const cio_server_opts *opts)
{
    int rc = start_check(out, handler, &opts);
    if (rc)
        return rc;
    cio__addr *addrs;
    size_t n;
    rc = resolve_all(host, port, opts->family, &addrs, &n);
    if (rc)
        return rc;
    cio_server *srv;
    rc = srv_new(&srv, handler, arg, opts, n);
    if (rc) {
        cio__free(addrs);
        return rc;
    }
    int first_skip = 0;
    uint16_t picked = 0; /* the port the first bind got, when port is 0 */
    for (size_t i = 0; i < n; i++) {
        cio__addr *a = &addrs[i];
        if (port == 0 && picked)
            set_port(a, picked);
        int fd = bind_tcp(a, opts);
        if (fd == -EADDRINUSE && port == 0 && picked) {
            set_port(a, 0); /* the shared port is taken in this family */
            fd = bind_tcp(a, opts);
        }
        if (fd < 0 && unassignable(fd)) {
            if (!first_skip)
                first_skip = fd;
            continue;
        }
        if (fd < 0) {
            rc = fd;
            break;
        }
        rc = srv_add_listener(srv, fd, a->family);
        if (rc)
            break;
        if (port == 0 && !picked)
            picked = cio__addr_port((struct sockaddr *)&srv->ls[srv->nls - 1].addr);
    }
    cio__free(addrs);
    if (rc == 0 && srv->nls == 0)
        rc = first_skip ? first_skip : -EADDRNOTAVAIL;
    if (rc) {
        close_listeners(srv);
        srv_free_now(srv);
        return rc;
    }
    return srv_finish(out, srv);
}

/* ---- Unix ------------------------------------------------------------------ */

/* A socket file left at path by a server that is gone is removed; one
 * that a live server answers on is -EADDRINUSE.  Anything else (no file,
 * not a socket) is left for bind to judge. */
static int clear_stale(const struct sockaddr_un *sun, socklen_t len)
{
    struct stat st;
    if (cio__lstat(sun->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode))
        return 0;
    int fd = cio__socket_for(AF_UNIX, SOCK_STREAM);
    if (fd < 0)
        return fd;
    int rc = cio__connect(fd, (const struct sockaddr *)sun, len) < 0 ? cio__err() : 0;
    cio__close(fd);
    if (rc == -ECONNREFUSED) {
        if (cio__unlink(sun->sun_path) < 0 && errno != ENOENT)
            return cio__err();
        return 0;
    }
    if (rc == -ENOENT)
        return 0; /* removed meanwhile */
    /* Connected, or a full backlog (EAGAIN): someone is listening. */
    return rc == 0 || rc == -EAGAIN || rc == -EINPROGRESS ? -EADDRINUSE : rc;
}

static int bind_unix(cio_server *srv, const struct sockaddr_un *sun, socklen_t len)
{
    bool abstract = cio__unix_is_abstract(sun, len);
    int rc = abstract ? 0 : clear_stale(sun, len);
    if (rc)
        return rc;
    /* Copied before bind: once the file exists, we must be able to
     * remember it, or a failure could not remove it again. */
    char *path = NULL;
    if (!abstract && !(path = cio__strdup(sun->sun_path)))
        return -ENOMEM;
    int fd = cio__socket_for(AF_UNIX, SOCK_STREAM);
    if (fd < 0) {
        cio__free(path);
        return fd;
    }
    if (cio__bind(fd, (const struct sockaddr *)sun, len) < 0) {
        rc = cio__err();
        cio__free(path);
        cio__close(fd);
        return rc;
    }
    /* Remember which file is ours: on close, a file that someone else has
     * put at the same path since then is left alone. */
    struct stat st;
    if (path && cio__stat(path, &st) == 0) {
        srv->unix_path = path;
        srv->unix_dev = st.st_dev;
        srv->unix_ino = st.st_ino;
    } else {
        cio__free(path);
    }
    if (cio__listen(fd, srv->opts.backlog) < 0) {
        rc = cio__err();
        cio__close(fd);
        return rc; /* the caller removes the file */
    }
    return srv_add_listener(srv, fd, AF_UNIX);
}

/* Remove the socket file if it is still the one we bound. */
static void unlink_ours(cio_server *srv)
{
    struct stat st;
    if (!srv->unix_path)
        return;
    if (cio__stat(srv->unix_path, &st) == 0 && st.st_dev == srv->unix_dev &&
        st.st_ino == srv->unix_ino)
        cio__unlink(srv->unix_path);
    cio__free(srv->unix_path);
    srv->unix_path = NULL;
}

int cio_start_unix_server(cio_server **out, cio_conn_handler handler, void *arg, const char *path,
                          const cio_server_opts *opts)
{
    int rc = start_check(out, handler, &opts);
    if (rc)
        return rc;
    struct sockaddr_un sun;
    socklen_t len;
    rc = cio__unix_addr(path, &sun, &len);
    if (rc)
        return rc;
    cio_server *srv;
    rc = srv_new(&srv, handler, arg, opts, 1);
    if (rc)
        return rc;
    rc = bind_unix(srv, &sun, len);
    if (rc) {
        unlink_ours(srv);
        srv_free_now(srv);
        return rc;
    }
    return srv_finish(out, srv);
}

/* ---- accessors ---------------------------------------------------------------- */

uint16_t cio_server_port(const cio_server *srv)
{
    if (srv->closed || srv->nls == 0)
        return 0;
    return cio__addr_port((const struct sockaddr *)&srv->ls[0].addr);
}

size_t cio_server_nsockets(const cio_server *srv)
{
    return srv->closed ? 0 : srv->nls;
}

int cio_server_sockname(const cio_server *srv, size_t i, struct sockaddr *addr, socklen_t *len)
{
    if (srv->closed)
        return -EBADF;
    if (i >= srv->nls || !addr || !len)
        return -EINVAL;
    const srv_listener *l = &srv->ls[i];
    if (*len < l->addrlen) {
        *len = l->addrlen;
        return -EINVAL;
    }
    memcpy(addr, &l->addr, l->addrlen);
    *len = l->addrlen;
    return 0;
}

bool cio_server_is_serving(const cio_server *srv)
{
    return srv->serving && !srv->closed;
}

int cio_server_start_serving(cio_server *srv)
{
    if (srv->closed)
        return -EBADF;
    if (srv->serving)
        return 0;
    int rc = cio__server_spawn_acceptors(srv);
    if (rc == 0)
        srv->serving = true;
    return rc;
}

/* ---- closing ------------------------------------------------------------------ */

void cio_server_close(cio_server *srv)
{
    if (srv->closed)
        return;
    srv->closed = true;
    srv->serving = false;
    for (size_t i = 0; i < srv->nls; i++) {
        srv_listener *l = &srv->ls[i];
        /* The accept task may be parked on the fd, sleeping after EMFILE,
         * or queued after a yield: closing the watcher wakes the first,
         * cancelling reaches the others, and it checks srv->closed after
         * every wait anyway. */
        if (l->task)
            cio_cancel(l->task);
        if (l->io_open) {
            cio__io_close(&l->io);
            l->io_open = false;
        }
        cio__close(l->fd);
        l->fd = -1;
    }
    unlink_ours(srv);
    cio__wake_all(&srv->close_waiters, 0);
    /* <= 1: a waiter may itself be a connection task (see server_accept.c). */
    if (srv->nconns <= 1)
        cio__wake_all(&srv->done_waiters, 0);
}

void cio_server_free(cio_server *srv)
{
    if (!srv)
        return;
    cio_server_close(srv);
    srv->detached = true;
    cio__server_maybe_free(srv);
}
