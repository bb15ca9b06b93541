/* Operations over readiness (backend.h), shared by the epoll and poll
 * backends: try the syscall; on EAGAIN park the operation on its fd's
 * slot for its direction; on the next readiness event retry it, and
 * complete it through op->done once the syscall no longer says EAGAIN.
 *
 * Operations complete only here, in loop context, so a cancel either
 * finds the operation still parked (withdrawn, nothing happened) or
 * already completed (its result, bytes included, stands). */
#include <errno.h>

#include "backend/backend.h"
#include "sys/sys.h"

static cio__op **slot_of(cio__op *op)
{
    bool read = op->kind == CIO__OP_ACCEPT || op->kind == CIO__OP_RECV ||
                (op->kind == CIO__OP_POLL && op->dir == CIO__IO_READ);
    return read ? &op->io->rd_op : &op->io->wr_op;
}

static bool *want_of(cio__op *op)
{
    return slot_of(op) == &op->io->rd_op ? &op->io->want_read : &op->io->want_write;
}

/* One attempt: true when the operation is complete (op->result set),
 * false when it must wait for readiness.  `ready`: a readiness event for
 * its direction has just been seen. */
static bool attempt(cio__op *op, bool ready)
{
    int fd = op->io->fd;
    ssize_t r;
    switch (op->kind) {
    case CIO__OP_POLL:
        op->result = 0;
        return ready;
    case CIO__OP_ACCEPT:
        r = cio__accept(fd, op->u.accept.addr, op->u.accept.len);
        break;
    case CIO__OP_CONNECT:
        if (op->started) {
            /* Writable: the connect has finished; SO_ERROR says how. */
            int soerr = 0;
            socklen_t len = sizeof(soerr);
            if (!ready)
                return false;
            r = cio__getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 ? cio__err() : -soerr;
            op->result = r;
            return true;
        }
        op->started = true;
        if (cio__connect(fd, op->u.connect.addr, op->u.connect.len) == 0) {
            op->result = 0;
            return true;
        }
        /* EINTR: the connect goes on asynchronously, as with EINPROGRESS. */
        if (errno == EINPROGRESS || errno == EINTR)
            return false;
        op->result = cio__err(); /* EAGAIN included: a full Unix backlog */
        return true;
    case CIO__OP_RECV:
        r = cio__recv(fd, op->u.recv.buf, op->u.recv.len, 0);
        break;
    case CIO__OP_SEND: {
        struct msghdr msg = {.msg_iov = (struct iovec *)op->u.send.iov,
                             .msg_iovlen = (size_t)op->u.send.iovcnt};
        r = cio__sendmsg(fd, &msg, MSG_NOSIGNAL);
        break;
    }
    default:
        op->result = -EINVAL;
        return true;
    }
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return false;
    op->result = r < 0 ? cio__err() : r;
    return true;
}

static void detach(cio__op *op)
{
    *slot_of(op) = NULL;
    *want_of(op) = false;
}

ssize_t cio__ready_submit(cio__op *op)
{
    cio__op **slot = slot_of(op);
    if (*slot)
        return -EEXIST;
    op->started = false;
    if (attempt(op, false))
        return op->result;
    *slot = op;
    *want_of(op) = true;
    return -EINPROGRESS;
}

int cio__ready_cancel(cio__op *op)
{
    if (*slot_of(op) != op)
        return -EALREADY;
    detach(op);
    return 0;
}

static void retry(cio__op *op)
{
    if (!attempt(op, true))
        return;
    detach(op);
    op->done(op);
}

void cio__ready_event(cio__io *io, bool readable, bool writable, bool error)
{
    if (io->on_ready) {
        io->on_ready(io, readable || error, writable || error);
        return;
    }
    /* done may free neither io nor the other op: they belong to tasks
     * that only run later. */
    if ((readable || error) && io->rd_op)
        retry(io->rd_op);
    if ((writable || error) && io->wr_op)
        retry(io->wr_op);
}

void cio__ready_close(cio__io *io)
{
    cio__op *ops[2] = {io->rd_op, io->wr_op};
    for (int i = 0; i < 2; i++) {
        if (!ops[i])
            continue;
        detach(ops[i]);
        ops[i]->result = -EBADF;
        ops[i]->done(ops[i]);
    }
}
