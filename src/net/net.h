/* Addresses, name resolution and socket helpers shared by the client side
 * (connect.c) and the server side (server.c).
 *
 *   addr.c     parsing and formatting: numeric hosts, Unix paths and
 *              abstract names, cio_addr_format
 *   dns.c      cio__resolve: numeric hosts at once, names through the
 *              thread pool's DNS share (getaddrinfo)
 *   connect.c  Happy Eyeballs over an address list; Unix connects
 *
 * Address lists are cio__addr arrays in one cio__malloc'd block (so fault
 * injection reaches them), freed with cio__addrs_free. */
#ifndef CIO_NET_H
#define CIO_NET_H

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "core/internal.h"

/* One resolved address. */
typedef struct cio__addr {
    struct sockaddr_storage sa;
    socklen_t len;
    int family; /* == sa.ss_family */
} cio__addr;

/* ---- addr.c ------------------------------------------------------------- */

/* Parse a numeric host ("1.2.3.4", "::1", "[::1]", "fe80::1%eth0") into
 * *out with port set.  family AF_UNSPEC accepts either; AF_INET/AF_INET6
 * restrict.  Returns 0, -EAGAIN if host is not numeric (resolve it as a
 * name), CIO_EAI_FAMILY/CIO_EAI_ADDRFAMILY if numeric but of the wrong
 * family, -EINVAL for a bad family. */
int cio__addr_numeric(const char *host, uint16_t port, int family, cio__addr *out);

/* Build a Unix socket address from path.  A leading '@' names an abstract
 * socket (the '@' becomes the NUL byte; the length excludes any trailing
 * NUL, as Linux expects for abstract names).  Returns 0, -EINVAL for an
 * empty path, -ENAMETOOLONG if it does not fit in sun_path. */
int cio__unix_addr(const char *path, struct sockaddr_un *sa, socklen_t *len);

/* True if (sa, len) names an abstract Unix socket. */
bool cio__unix_is_abstract(const struct sockaddr_un *sa, socklen_t len);

/* Port of an AF_INET/AF_INET6 address, host order; 0 for anything else. */
uint16_t cio__addr_port(const struct sockaddr *sa);

/* ---- dns.c -------------------------------------------------------------- */

/* Resolve host:port for SOCK_STREAM.  family: AF_UNSPEC, AF_INET or
 * AF_INET6.  flags: extra getaddrinfo flags — clients pass 0 (AI_ADDRCONFIG
 * is added), servers pass AI_PASSIVE (host NULL or "" then yields the
 * wildcard addresses, IPv4 first, without a thread hop).  Numeric hosts
 * never leave the loop thread; names go through the pool's DNS share, so
 * the call may block the task (and may return -ECANCELED/-ETIMEDOUT).
 * On success *out is a list of *n >= 1 addresses in getaddrinfo's order,
 * duplicates removed; free it with cio__addrs_free.  Errors: CIO_EAI_*,
 * -ENOMEM, -EINVAL, interrupts. */
int cio__resolve(const char *host, uint16_t port, int family, int flags, cio__addr **out,
                 size_t *n);
void cio__addrs_free(cio__addr *list);

/* ---- sockets ------------------------------------------------------------- */

/* socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) through
 * cio__socket.  Returns the fd or -errno. */
int cio__socket_for(int family, int type);

/* ---- connect.c ------------------------------------------------------------ */

/* Result of cio__connect_addrs. */
typedef struct cio__connect_result {
    int fd;        /* the connected socket (>= 0), owned by the caller */
    size_t winner; /* index into the address list of the winning attempt */
    int family;
    /* Errors of failed attempts in address-list order of the attempts
     * made (errs[i] belongs to the i-th address tried); 0 = not tried or
     * not failed.  Optional: NULL when the caller does not care. */
    int *errs;
} cio__connect_result;

/* The Happy Eyeballs core (RFC 8305), on an already ordered list: start
 * attempt i when attempt i-1 fails or `delay` seconds after it started,
 * whichever comes first; delay <= 0 tries the addresses one at a time.
 * The first connection wins, the others are cancelled and closed.  local
 * (n_local entries, may be 0) are bind addresses: each attempt binds to
 * the first one of its family (an attempt with none fails with
 * -EADDRNOTAVAIL).  Returns 0 with res->fd set, or the error of the first
 * address when all fail, or the caller's -ECANCELED/-ETIMEDOUT (every
 * attempt is joined and its socket closed before returning). */
int cio__connect_addrs(const cio__addr *addrs, size_t n, double delay, const cio__addr *local,
                       size_t n_local, cio__connect_result *res);

/* Connect fd to a Unix socket, waiting (bounded by the caller's scopes)
 * while the listener's backlog is full.  0 or an error; fd stays the
 * caller's. */
int cio__connect_unix(int fd, const struct sockaddr_un *sa, socklen_t len);

/* Reorder a resolved list for Happy Eyeballs: the first family of the
 * list first, then alternate families (RFC 8305 section 4).  In place. */
void cio__addrs_interleave(cio__addr *addrs, size_t n);

#endif
