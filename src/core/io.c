/* fd watchers and operations: the layer between tasks and the backend.
 *
 * A task runs an operation on a registered fd (cio__io_run): the backend
 * completes it at once or parks the task until it completes; an
 * interrupted task cancels it, losing nothing that completed. */
#include <fcntl.h>
#include <string.h>

#include "core/loop.h"

int cio__io_open(cio__io *io, int fd)
{
    cio_loop *loop = cio__loop();
    io->fd = fd;
    io->poll_index = -1;
    io->want_read = io->want_write = false;
    io->rd_op = io->wr_op = NULL;
    io->on_ready = NULL;
    io->closed = false;
    io->level = false;
    io->hup = false;
    io->error = false;
    int rc = loop->backend->add(loop->backend_state, io);
    if (rc)
        io->closed = true; /* so a later cio__io_close is a no-op */
    return rc;
}

void cio__io_close(cio__io *io)
{
    cio_loop *loop = cio__loop();
    if (io->closed)
        return;
    io->closed = true;
    /* Pending operations complete with -EBADF, waking their tasks. */
    loop->backend->del(loop->backend_state, io);
}

static void op_done(cio__op *op)
{
    cio__unpark(op->owner);
}

ssize_t cio__io_run(cio__io *io, cio__op *op)
{
    cio_loop *loop = cio__loop();
    if (io->closed)
        return -EBADF;
    op->io = io;
    op->done = op_done;
    op->owner = loop->current;
    ssize_t r = loop->backend->submit(loop->backend_state, op);
    if (r != -EINPROGRESS)
        return r;
    int rc = cio__park();
    if (rc == 0)
        return op->result;
    /* Interrupted.  An operation that completed meanwhile keeps its
     * result: a recv's bytes are in the caller's buffer, an accepted fd
     * is the caller's to use. */
    if (loop->backend->cancel(loop->backend_state, op) == -EALREADY)
        return op->result;
    return rc;
}

int cio__io_wait(cio__io *io, int dir)
{
    cio__op op = {.kind = CIO__OP_POLL, .dir = (uint8_t)dir};
    return (int)cio__io_run(io, &op);
}

/* Foreign fds (cio_wait_readable/writable) share one watcher per fd, so a
 * reader and a writer can wait on the same fd at once while a second
 * waiter in the same direction is refused.  The table is indexed by fd
 * and lives as long as the loop. */
struct cio__fd_watch {
    cio__io io;
    unsigned users;
};

static struct cio__fd_watch *watch_get(cio_loop *loop, int fd, int *err)
{
    if ((size_t)fd >= loop->nfd_watches) {
        size_t n = loop->nfd_watches ? loop->nfd_watches : 16;
        while (n <= (size_t)fd)
            n *= 2;
        struct cio__fd_watch **table = cio__reallocarray(loop->fd_watches, n, sizeof(*table));
        if (!table) {
            *err = -ENOMEM;
            return NULL;
        }
        memset(table + loop->nfd_watches, 0, (n - loop->nfd_watches) * sizeof(*table));
        loop->fd_watches = table;
        loop->nfd_watches = n;
    }
    struct cio__fd_watch **slot = &loop->fd_watches[fd];
    if (*slot)
        return *slot;
    struct cio__fd_watch *w = cio__calloc(1, sizeof(*w));
    if (!w) {
        *err = -ENOMEM;
        return NULL;
    }
    *err = cio__io_open(&w->io, fd);
    if (*err) {
        cio__free(w);
        return NULL;
    }
    w->io.level = true;
    *slot = w;
    return w;
}

static void watch_put(cio_loop *loop, struct cio__fd_watch *w)
{
    if (--w->users)
        return;
    loop->fd_watches[w->io.fd] = NULL;
    cio__io_close(&w->io);
    cio__free(w);
}

static int wait_fd(int fd, int dir)
{
    cio_loop *loop = cio__loop();
    int err = 0;
    if (!cio__current())
        return -EPERM;
    /* poll(2) reports a closed fd as POLLNVAL, "ready": refuse it here. */
    if (fd < 0 || fcntl(fd, F_GETFD) < 0)
        return -EBADF;
    struct cio__fd_watch *w = watch_get(loop, fd, &err);
    if (!w)
        return err;
    w->users++;
    int rc = cio__io_wait(&w->io, dir);
    watch_put(loop, w);
    return rc;
}

int cio_wait_readable(int fd)
{
    return wait_fd(fd, CIO__IO_READ);
}

int cio_wait_writable(int fd)
{
    return wait_fd(fd, CIO__IO_WRITE);
}

void cio__fd_watches_free(cio_loop *loop)
{
    cio__free(loop->fd_watches);
    loop->fd_watches = NULL;
    loop->nfd_watches = 0;
}
