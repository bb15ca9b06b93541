/* fd watchers: the layer between tasks and the I/O backend.
 *
 * Users of a watcher try the syscall first and wait only after EAGAIN;
 * the backend then wakes the task parked for that direction. */
#include "loop.h"

int cio__io_open(cio__io *io, int fd)
{
    cio_loop *loop = cio__loop();
    io->fd = fd;
    io->poll_index = -1;
    io->want_read = io->want_write = false;
    io->reader = io->writer = NULL;
    io->on_ready = NULL;
    io->closed = false;
    return loop->backend->add(loop, io);
}

void cio__io_close(cio__io *io)
{
    cio_loop *loop = cio__loop();
    if (io->closed)
        return;
    loop->backend->del(loop, io);
    io->closed = true;
    if (io->reader)
        cio__unpark(io->reader);
    if (io->writer)
        cio__unpark(io->writer);
}

int cio__io_wait(cio__io *io, int dir)
{
    cio_loop *loop = cio__loop();
    cio_task *self = loop->current;
    cio_task **slot = dir == CIO__IO_READ ? &io->reader : &io->writer;
    if (io->closed)
        return -EBADF;
    if (*slot)
        return -EEXIST;
    bool *want = dir == CIO__IO_READ ? &io->want_read : &io->want_write;
    *slot = self;
    *want = true;
    int rc = loop->backend->update(loop, io);
    if (rc == 0)
        rc = cio__park();
    *slot = NULL;
    *want = false;
    if (rc == 0 && io->closed)
        rc = -EBADF;
    return rc;
}

void cio__io_ready(cio__io *io, bool readable, bool writable, bool error)
{
    if (io->on_ready) {
        io->on_ready(io, readable || error, writable || error);
        return;
    }
    if ((readable || error) && io->reader)
        cio__unpark(io->reader);
    if ((writable || error) && io->writer)
        cio__unpark(io->writer);
}

static int wait_fd(int fd, int dir)
{
    cio__io io;
    if (!cio__current())
        return -EINVAL;
    if (fd < 0)
        return -EBADF;
    int rc = cio__io_open(&io, fd);
    if (rc)
        return rc;
    rc = cio__io_wait(&io, dir);
    cio__io_close(&io);
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
