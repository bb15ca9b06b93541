/* fd watchers: the layer between tasks and the I/O backend.
 *
 * Users of a watcher try the syscall first and wait only after EAGAIN;
 * the backend then wakes the task parked for that direction. */
#include <fcntl.h>
#include <string.h>

#include "core/loop.h"

int cio__io_open(cio__io *io, int fd)
{
    cio_loop *loop = cio__loop();
    io->fd = fd;
    io->poll_index = -1;
    io->want_read = io->want_write = false;
    io->reader = io->writer = NULL;
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
    loop->backend->del(loop->backend_state, io);
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
    int rc = loop->backend->update(loop->backend_state, io);
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
