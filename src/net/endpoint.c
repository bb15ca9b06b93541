/* Endpoints: the bottom transport, one connected fd — a socket or a pipe
 * end — with readiness hints.
 *
 * The hints (rd_ready/wr_ready) save the syscall that would only return
 * EAGAIN: a short transfer on a stream socket or pipe means the kernel
 * buffer was drained (or filled) at that moment, and the next edge from
 * the backend sets the hint again.  So an echo round trip costs one recv
 * and one send, as in hand-written epoll code.
 *
 * The exception is a peer that has hung up: an EOF (or a reset) that
 * arrived together with the last data comes in the same edge and no
 * further edge follows, so once the backend has seen the hang-up
 * (io.hup) a short read no longer clears the hint. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>

#include "net/transport.h"

/* Shared by sockets and pipes: the hint rules around one transfer. */
static inline ssize_t after_read(cio__endpoint *ep, ssize_t n, size_t len)
{
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            ep->rd_ready = false;
            return -EAGAIN;
        }
        return cio__err();
    }
    if (n > 0 && (size_t)n < len && !ep->io.hup)
        ep->rd_ready = false;
    return n;
}

static inline ssize_t after_write(cio__endpoint *ep, ssize_t n, const struct iovec *iov, int iovcnt)
{
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            ep->wr_ready = false;
            return -EAGAIN;
        }
        return cio__err();
    }
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    if ((size_t)n < total)
        ep->wr_ready = false;
    return n;
}

static bool ep_read_idle(const cio__transport *tp)
{
    return !cio__container_of(tp, cio__endpoint, tp)->rd_ready;
}

/* ---- sockets ------------------------------------------------------------------ */

static ssize_t sock_read(cio__transport *tp, void *buf, size_t len)
{
    cio__endpoint *ep = cio__endpoint_of(tp);
    if (!ep->rd_ready)
        return -EAGAIN;
    ssize_t n;
    do
        n = cio__recv(ep->fd, buf, len, 0);
    while (n < 0 && errno == EINTR);
    return after_read(ep, n, len);
}

static ssize_t sock_write(cio__transport *tp, const struct iovec *iov, int iovcnt)
{
    cio__endpoint *ep = cio__endpoint_of(tp);
    if (!iovcnt)
        return 0;
    if (!ep->wr_ready)
        return -EAGAIN;
    ssize_t n;
    do {
        if (iovcnt == 1) {
            /* The common case, one buffer: send() spares the kernel
             * copying in a msghdr and an iovec array. */
            n = cio__send(ep->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
        } else {
            struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
            n = cio__sendmsg(ep->fd, &msg, MSG_NOSIGNAL);
        }
    } while (n < 0 && errno == EINTR);
    return after_write(ep, n, iov, iovcnt);
}

static int sock_write_eof(cio__transport *tp)
{
    return cio__shutdown(cio__endpoint_of(tp)->fd, SHUT_WR) < 0 ? cio__err() : 0;
}

static const cio__transport_ops socket_ops = {
    .name = "socket",
    .read = sock_read,
    .read_idle = ep_read_idle,
    .write = sock_write,
    .write_eof = sock_write_eof,
};

/* ---- pipes -------------------------------------------------------------------- */

static ssize_t pipe_read(cio__transport *tp, void *buf, size_t len)
{
    cio__endpoint *ep = cio__endpoint_of(tp);
    if (!ep->rd_ready)
        return -EAGAIN;
    ssize_t n;
    do
        n = cio__read(ep->fd, buf, len);
    while (n < 0 && errno == EINTR);
    return after_read(ep, n, len);
}

/* A pipe has no MSG_NOSIGNAL: writing to one whose reader is gone raises
 * SIGPIPE, which would kill the process by default.  Block it in this
 * thread for the write and consume the one the write raised, so the
 * caller sees EPIPE only.  A SIGPIPE already pending (the application
 * blocks it) is left alone: ours merges into it. */
static ssize_t writev_nosigpipe(int fd, const struct iovec *iov, int iovcnt)
{
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
        return cio__writev(fd, iov, iovcnt);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    ssize_t n = cio__writev(fd, iov, iovcnt);
    if (n < 0 && errno == EPIPE) {
        const struct timespec now = {0, 0};
        sigtimedwait(&pipe_set, NULL, &now);
        errno = EPIPE;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return n;
}

static ssize_t pipe_write(cio__transport *tp, const struct iovec *iov, int iovcnt)
{
    cio__endpoint *ep = cio__endpoint_of(tp);
    if (!iovcnt)
        return 0;
    if (!ep->wr_ready)
        return -EAGAIN;
    ssize_t n;
    do
        n = writev_nosigpipe(ep->fd, iov, iovcnt);
    while (n < 0 && errno == EINTR);
    return after_write(ep, n, iov, iovcnt);
}

/* The write end of a pipe ends by closing it (asyncio's write pipe
 * transport: write_eof closes the pipe). */
static int pipe_write_eof(cio__transport *tp)
{
    cio__endpoint_close(cio__endpoint_of(tp));
    return 0;
}

static const cio__transport_ops pipe_write_end_ops = {
    .name = "pipe",
    .read = pipe_read,
    .read_idle = ep_read_idle,
    .write = pipe_write,
    .write_eof = pipe_write_eof,
};

/* A read end (or a tty, or anything else that is no socket): no
 * half-close. */
static const cio__transport_ops pipe_ops = {
    .name = "pipe",
    .read = pipe_read,
    .read_idle = ep_read_idle,
    .write = pipe_write,
};

/* ---- the endpoint ----------------------------------------------------------------- */

/* A pipe end opened for writing only can half-close; other fds that are
 * no sockets (a read end, a tty) cannot. */
static const cio__transport_ops *pipe_ops_for(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && (fl & O_ACCMODE) == O_WRONLY ? &pipe_write_end_ops : &pipe_ops;
}

int cio__endpoint_open(cio__endpoint *ep, int fd, int family)
{
    ep->tp.ops = family ? &socket_ops : pipe_ops_for(fd);
    ep->tp.ep = ep;
    ep->fd = fd;
    /* No read is tried before the backend reports data (registration
     * reports what is already there), so an idle connection never gets a
     * read buffer. */
    ep->rd_ready = false;
    ep->wr_ready = true;
    return cio__io_open(&ep->io, fd);
}

void cio__endpoint_close(cio__endpoint *ep)
{
    if (ep->fd < 0)
        return;
    cio__io_close(&ep->io);
    cio__close(ep->fd);
    ep->fd = -1;
}

int cio__endpoint_error(const cio__endpoint *ep)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (ep->fd < 0 || cio__getsockopt(ep->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return 0;
    return -err;
}
