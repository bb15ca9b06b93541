/* Opening connections, asyncio's open_connection and
 * open_unix_connection: resolve, connect (net/connect.c: Happy Eyeballs),
 * make a stream of the socket and, with a TLS context, run the handshake
 * (stream_tls.c). */
#include <math.h>

#include "net/net.h"
#include "stream/stream_tls.h"

static const cio_connect_opts default_opts = CIO_CONNECT_OPTS_INIT;

static int check_opts(const cio_connect_opts *o)
{
    int rc = cio__stream_opts_check(&o->stream);
    if (rc)
        return rc;
    if (o->family != AF_UNSPEC && o->family != AF_INET && o->family != AF_INET6)
        return -EINVAL;
    if (isnan(o->happy_eyeballs_delay))
        return -EINVAL;
    if (!o->tls) {
        /* TLS settings without TLS are a mistake worth reporting. */
        if (o->server_hostname || o->tls_handshake_timeout || o->tls_shutdown_timeout)
            return -EINVAL;
    } else {
#ifdef CIO_NO_TLS
        return -ENOTSUP; /* built without TLS */
#else
        if (!cio__timeout_opt_ok(o->tls_handshake_timeout) ||
            !cio__timeout_opt_ok(o->tls_shutdown_timeout))
            return -EINVAL;
#endif
    }
    return 0;
}

/* Keep only the addresses some local address can be bound for. */
static size_t filter_by_local(cio__addr *addrs, size_t n, const cio__addr *local, size_t n_local)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool ok = false;
        for (size_t j = 0; j < n_local && !ok; j++)
            ok = local[j].family == addrs[i].family;
        if (ok)
            addrs[k++] = addrs[i];
    }
    return k;
}

/* Run the TLS handshake on a fresh stream (tls.c); on failure the stream
 * is already closed with the error, and our reference goes. */
static int tls_upgrade(cio_stream **out, const cio_connect_opts *opts, const char *host)
{
    int rc = cio__tls_client_upgrade(*out, opts, host);
    if (rc) {
        cio_stream_release(*out);
        *out = NULL;
    }
    return rc;
}

/* What both open calls check first: arguments, task context, options
 * (NULL: the defaults, in *opts). */
static int open_begin(cio_stream **out, const void *where, const cio_connect_opts **opts)
{
    if (!out || !where)
        return -EINVAL;
    *out = NULL;
    if (!cio__current())
        return -EPERM;
    if (!*opts)
        *opts = &default_opts;
    return check_opts(*opts);
}

int cio_open_connection(cio_stream **out, const char *host, uint16_t port,
                        const cio_connect_opts *opts)
{
    int rc = open_begin(out, host, &opts);
    if (rc)
        return rc;
    cio__addr *addrs = NULL, *local = NULL;
    size_t n = 0, n_local = 0;
    rc = cio__resolve(host, port, opts->family, 0, &addrs, &n);
    if (rc)
        return rc;
    if (opts->local_host || opts->local_port) {
        rc = cio__resolve(opts->local_host, opts->local_port, opts->family,
                          opts->local_host ? 0 : AI_PASSIVE, &local, &n_local);
        if (rc)
            goto out;
        n = filter_by_local(addrs, n, local, n_local);
        if (n == 0) {
            rc = -EADDRNOTAVAIL; /* no local address of a family the host has */
            goto out;
        }
    }
    /* 0 is the default stagger; a negative one turns it off. */
    double delay = opts->happy_eyeballs_delay ? opts->happy_eyeballs_delay : 0.25;
    if (delay > 0)
        cio__addrs_interleave(addrs, n);

    cio__connect_result res = {.fd = -1};
    rc = cio__connect_addrs(addrs, n, delay, local, n_local, &res);
    if (rc == 0)
        rc = cio__stream_new(out, res.fd, res.family, &opts->stream);
    if (rc == 0 && opts->tls)
        rc = tls_upgrade(out, opts, host);
out:
    cio__addrs_free(addrs);
    cio__addrs_free(local);
    return rc;
}

int cio_open_unix_connection(cio_stream **out, const char *path, const cio_connect_opts *opts)
{
    int rc = open_begin(out, path, &opts);
    if (rc)
        return rc;
    /* There is no host name to default to (asyncio requires it too). */
    if (opts->tls && !opts->server_hostname)
        return -EINVAL;
    struct sockaddr_un sa;
    socklen_t len;
    rc = cio__unix_addr(path, &sa, &len);
    if (rc)
        return rc;
    rc = cio__interrupted(cio__current());
    if (rc)
        return rc;
    int fd = cio__socket_for(AF_UNIX, SOCK_STREAM);
    if (fd < 0)
        return fd;
    rc = cio__connect_unix(fd, &sa, len);
    if (rc) {
        cio__close(fd);
        return rc;
    }
    rc = cio__stream_new(out, fd, AF_UNIX, &opts->stream);
    if (rc == 0 && opts->tls)
        rc = tls_upgrade(out, opts, NULL);
    return rc;
}
