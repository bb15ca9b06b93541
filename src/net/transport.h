/* Transports: byte pipes stacked over an endpoint.
 *
 * A transport moves bytes without ever waiting: read and write either do
 * what they can now or say -EAGAIN.  At the bottom of every stack is an
 * endpoint, one connected fd registered with the loop (a socket, or a
 * pipe end); a transport such as TLS sits on the transport below it and
 * only ever calls that transport's operations.  Readiness comes from the
 * endpoint's watcher, whose on_ready callback belongs to the consumer on
 * top (a stream today, a protocol tomorrow): the consumer then calls the
 * top transport again, which works its way down.  No transport knows its
 * consumer.
 *
 * Buffers: read fills the caller's buffer; write takes bytes from the
 * caller's iovec and returns how many it took — the caller keeps the
 * rest (the stream's write queue).  A transport may hold bytes of its own
 * below that count (TLS records the socket has not taken yet): `pending`
 * says how many, and the consumer calls write again, with no buffers if
 * it has nothing more, when the endpoint becomes writable. */
#ifndef CIO_TRANSPORT_H
#define CIO_TRANSPORT_H

#include <sys/socket.h>
#include <sys/uio.h>

#include "core/internal.h"

typedef struct cio__transport cio__transport;
typedef struct cio__endpoint cio__endpoint;

typedef struct cio__transport_ops {
    const char *name;
    /* Up to len bytes: > 0, 0 at EOF, -EAGAIN (wait for the endpoint to
     * become readable), or the connection's error. */
    ssize_t (*read)(cio__transport *tp, void *buf, size_t len);
    /* True when read would surely say -EAGAIN, so a consumer can wait
     * before it sets up a buffer (an idle connection holds none). */
    bool (*read_idle)(const cio__transport *tp);
    /* Take bytes from iov (iovcnt may be 0: only push out what the
     * transport holds): the count taken (maybe less than offered),
     * -EAGAIN when it can take nothing now, or an error that ends the
     * connection. */
    ssize_t (*write)(cio__transport *tp, const struct iovec *iov, int iovcnt);
    /* Bytes the transport holds that are not on the wire yet; NULL: none. */
    size_t (*pending)(const cio__transport *tp);
    /* Half-close once everything is written; NULL when the transport has
     * no half-close (TLS, the read end of a pipe). */
    int (*write_eof)(cio__transport *tp);
    /* One step of a graceful close, called once everything is written:
     * 0 when done, -EAGAIN to be called again on the endpoint's next
     * readiness, or an error.  NULL: nothing to do. */
    int (*shutdown)(cio__transport *tp);
    /* Free this layer's state (not the layers below it).  NULL: nothing. */
    void (*destroy)(cio__transport *tp);
} cio__transport_ops;

struct cio__transport {
    const cio__transport_ops *ops;
    cio__endpoint *ep; /* the bottom of the stack, whose readiness drives it */
};

/* The bottom transport: one connected fd, registered with the loop.  The
 * hints save the syscall that would only say EAGAIN (see endpoint.c). */
struct cio__endpoint {
    cio__transport tp; /* ops: a socket's or a pipe end's */
    cio__io io;        /* io.on_ready: set by the consumer */
    int fd;            /* -1 once closed */
    bool rd_ready;     /* the fd may have data (edge hint) */
    bool wr_ready;     /* the fd may take data (edge hint) */
};

/* Take over fd (non-blocking, close-on-exec) and register it: a socket
 * of the given family, or with family 0 a pipe end (or another fd that is
 * no socket).  On failure fd is left open. */
int cio__endpoint_open(cio__endpoint *ep, int fd, int family);
/* Deregister and close the fd (idempotent).  Parked waiters are woken. */
void cio__endpoint_close(cio__endpoint *ep);
/* Pending SO_ERROR of a socket the backend reported in error, as -errno;
 * 0 when there is none or the fd is no socket. */
int cio__endpoint_error(const cio__endpoint *ep);

static inline cio__endpoint *cio__endpoint_of(cio__transport *tp)
{
    return cio__container_of(tp, cio__endpoint, tp);
}

#endif
