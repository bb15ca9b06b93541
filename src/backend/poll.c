/* poll(2) backend: the portable one.  It keeps a table of registered
 * watchers and, on each poll, asks only for the directions their owners
 * want (want_read/want_write): it is level-triggered, so asking for what
 * nobody waits for would spin. */
#include "backend/backend.h"
#include "sys/sys.h"

struct cio__backend_state {
    cio__io **ios;
    struct pollfd *fds;
    size_t n, cap;
};

static int pl_init(cio__backend_state **out)
{
    struct cio__backend_state *st = cio__calloc(1, sizeof(*st));
    if (!st)
        return -ENOMEM;
    *out = st;
    return 0;
}

static void pl_term(cio__backend_state *st)
{
    cio__free(st->ios);
    cio__free(st->fds);
    cio__free(st);
}

static int pl_add(cio__backend_state *st, cio__io *io)
{
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 16;
        cio__io **ios = cio__reallocarray(st->ios, cap, sizeof(*ios));
        if (!ios)
            return -ENOMEM;
        st->ios = ios;
        struct pollfd *fds = cio__reallocarray(st->fds, cap, sizeof(*fds));
        if (!fds)
            return -ENOMEM;
        st->fds = fds;
        st->cap = cap;
    }
    io->poll_index = (int)st->n;
    st->ios[st->n++] = io;
    return 0;
}

static void pl_del(cio__backend_state *st, cio__io *io)
{
    cio__ready_close(io);
    size_t i = (size_t)io->poll_index;
    cio__io *last = st->ios[--st->n];
    st->ios[i] = last;
    last->poll_index = (int)i;
    io->poll_index = -1;
}

static int pl_update(cio__backend_state *st, cio__io *io)
{
    (void)st, (void)io;
    return 0;
}

static int pl_poll(cio__backend_state *st, int64_t timeout_ns)
{
    int ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
    if (timeout_ns > (int64_t)1000000 * 1000000)
        ms = 1000000000;
    for (size_t i = 0; i < st->n; i++) {
        cio__io *io = st->ios[i];
        st->fds[i].fd = io->fd;
        st->fds[i].events = (short)((io->want_read ? POLLIN : 0) | (io->want_write ? POLLOUT : 0));
        /* Owner-driven watchers (streams) stay watched for errors and
         * hang-ups, which poll reports unasked, until a hang-up is seen
         * (it would then be reported on every call). */
        if (!st->fds[i].events && (!io->on_ready || io->hup))
            st->fds[i].fd = -1; /* poll ignores negative fds */
        st->fds[i].revents = 0;
    }
    size_t n = st->n;
    int r = cio__poll(st->fds, n, ms);
    if (r < 0)
        return errno == EINTR ? 0 : cio__err();
    /* Dispatch from the last slot down.  A callback (a stream finishing
     * its close) may remove watchers; removal moves the last watcher into
     * the freed slot, so only already-dispatched watchers ever move below
     * us, and the fd check skips a slot whose watcher changed. */
    for (size_t i = n; i-- > 0 && r > 0;) {
        short re = st->fds[i].revents;
        if (!re)
            continue;
        r--;
        if (i >= st->n || st->ios[i]->fd != st->fds[i].fd)
            continue; /* level-triggered: nothing is lost */
        if (re & (POLLHUP | POLLERR))
            st->ios[i]->hup = true;
        if (re & POLLERR)
            st->ios[i]->error = true;
        cio__ready_event(st->ios[i], re & (POLLIN | POLLHUP), re & POLLOUT,
                         re & (POLLERR | POLLHUP | POLLNVAL));
    }
    return 0;
}

/* Every poll asks for what the watchers want, which submitting sets. */
static ssize_t pl_submit(cio__backend_state *st, cio__op *op)
{
    (void)st;
    return cio__ready_submit(op);
}

static int pl_cancel(cio__backend_state *st, cio__op *op)
{
    (void)st;
    return cio__ready_cancel(op);
}

const cio__backend cio__backend_poll = {
    .name = "poll",
    .init = pl_init,
    .term = pl_term,
    .add = pl_add,
    .del = pl_del,
    .update = pl_update,
    .poll = pl_poll,
    .submit = pl_submit,
    .cancel = pl_cancel,
};
