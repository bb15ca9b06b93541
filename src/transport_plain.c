/* Raw fd I/O for streams, and the plain (no TLS) transport.
 *
 * The readiness hints (rd_ready/wr_ready) save the syscall that would
 * only return EAGAIN: a short transfer on a stream socket or pipe means
 * the kernel buffer was drained (or filled) at that moment, and the next
 * edge from the backend sets the hint again.  So an echo round trip costs
 * one recv and one send, as in hand-written epoll code.
 *
 * The exception is a peer that has hung up: an EOF (or a reset) that
 * arrived together with the last data comes in the same edge and no
 * further edge follows, so once the backend has seen the hang-up
 * (io.hup) a short recv no longer clears the hint. */
#include <pthread.h>
#include <signal.h>

#include "stream.h"

ssize_t cio__stream_recv(cio_stream *s, void *buf, size_t len)
{
    if (!s->rd_ready)
        return -EAGAIN;
    ssize_t n;
    do
        n = s->is_socket ? cio__recv(s->fd, buf, len, 0) : cio__read(s->fd, buf, len);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            s->rd_ready = false;
            return -EAGAIN;
        }
        return cio__err();
    }
    if (n > 0 && (size_t)n < len && !s->io.hup)
        s->rd_ready = false;
    return n;
}

/* A pipe has no MSG_NOSIGNAL: writing to one whose reader is gone raises
 * SIGPIPE, which would kill the process by default.  Block it in this
 * thread for the write and consume the one the write raised, so the
 * caller sees EPIPE only.  A SIGPIPE already pending (the application
 * blocks it) is left alone: ours merges into it. */
static ssize_t pipe_writev(int fd, const struct iovec *iov, int iovcnt)
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

ssize_t cio__stream_send(cio_stream *s, const struct iovec *iov, int iovcnt)
{
    if (!s->wr_ready)
        return -EAGAIN;
    ssize_t n;
    for (;;) {
        if (s->is_socket && iovcnt == 1) {
            /* The common case, one buffer: send() spares the kernel
             * copying in a msghdr and an iovec array. */
            n = cio__send(s->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
        } else if (s->is_socket) {
            struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
            n = cio__sendmsg(s->fd, &msg, MSG_NOSIGNAL);
        } else {
            n = pipe_writev(s->fd, iov, iovcnt);
        }
        if (n >= 0 || errno != EINTR)
            break;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            s->wr_ready = false;
            return -EAGAIN;
        }
        return cio__err();
    }
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    if ((size_t)n < total)
        s->wr_ready = false;
    return n;
}

static ssize_t plain_read(cio_stream *s, void *buf, size_t len)
{
    return cio__stream_recv(s, buf, len);
}

static bool plain_idle(const cio_stream *s)
{
    return !s->rd_ready;
}

static int plain_write_eof(cio_stream *s)
{
    if (s->is_socket)
        return cio__shutdown(s->fd, SHUT_WR) < 0 ? cio__err() : 0;
    /* A pipe's write side ends by closing it. */
    return 0;
}

const cio__transport cio__transport_plain = {
    .name = "plain",
    .read = plain_read,
    .idle = plain_idle,
    .write = cio__stream_send_or_queue,
    .write_eof = plain_write_eof,
    .close = NULL,
    .destroy = NULL,
};
