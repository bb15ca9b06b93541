/* epoll backend.  Each fd is registered once, edge-triggered, for both
 * directions: waiting costs no epoll_ctl, and the user-side rule "try the
 * syscall, wait after EAGAIN" makes edge triggering lossless. */
#include <sys/epoll.h>

#include "backend/backend.h"
#include "sys/sys.h"

enum { MAX_EVENTS = 256 };

struct cio__backend_state {
    int epfd;
    struct epoll_event events[MAX_EVENTS];
};

static int ep_init(cio__backend_state **out)
{
    struct cio__backend_state *st = cio__malloc(sizeof(*st));
    if (!st)
        return -ENOMEM;
    st->epfd = cio__epoll_create();
    if (st->epfd < 0) {
        int err = cio__err();
        cio__free(st);
        return err;
    }
    *out = st;
    return 0;
}

static void ep_term(cio__backend_state *st)
{
    cio__close(st->epfd);
    cio__free(st);
}

static int ep_add(cio__backend_state *st, cio__io *io)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = io};
    if (cio__epoll_ctl(st->epfd, EPOLL_CTL_ADD, io->fd, &ev) < 0)
        return cio__err();
    return 0;
}

static void ep_del(cio__backend_state *st, cio__io *io)
{
    cio__ready_close(io);
    /* Fails harmlessly if the fd was already closed. */
    epoll_ctl(st->epfd, EPOLL_CTL_DEL, io->fd, NULL);
}

/* Edge-triggered registrations need nothing, except for foreign fds: a
 * MOD makes epoll report the current readiness as a fresh edge. */
static int ep_update(cio__backend_state *st, cio__io *io)
{
    if (!io->level)
        return 0;
    struct epoll_event ev = {.events = EPOLLRDHUP | EPOLLET, .data.ptr = io};
    ev.events |= (io->want_read ? EPOLLIN : 0) | (io->want_write ? EPOLLOUT : 0);
    if (cio__epoll_ctl(st->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
        return cio__err();
    return 0;
}

static int ep_poll(cio__backend_state *st, int64_t timeout_ns)
{
    int ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
    if (timeout_ns > (int64_t)1000000 * 1000000)
        ms = 1000000000;
    int n = cio__epoll_wait(st->epfd, st->events, MAX_EVENTS, ms);
    if (n < 0)
        return errno == EINTR ? 0 : cio__err();
    for (int i = 0; i < n; i++) {
        uint32_t e = st->events[i].events;
        cio__io *io = st->events[i].data.ptr;
        if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            io->hup = true;
        if (e & EPOLLERR)
            io->error = true;
        cio__ready_event(io, e & (EPOLLIN | EPOLLRDHUP), e & EPOLLOUT, e & (EPOLLERR | EPOLLHUP));
    }
    return 0;
}

/* A foreign fd's operation re-arms the registration (ep_update), so
 * epoll reports the readiness it already has. */
static ssize_t ep_submit(cio__backend_state *st, cio__op *op)
{
    ssize_t r = cio__ready_submit(op);
    if (r == -EINPROGRESS && op->io->level) {
        int rc = ep_update(st, op->io);
        if (rc) {
            cio__ready_cancel(op);
            return rc;
        }
    }
    return r;
}

static int ep_cancel(cio__backend_state *st, cio__op *op)
{
    (void)st;
    return cio__ready_cancel(op);
}

const cio__backend cio__backend_epoll = {
    .name = "epoll",
    .init = ep_init,
    .term = ep_term,
    .add = ep_add,
    .del = ep_del,
    .update = ep_update,
    .poll = ep_poll,
    .submit = ep_submit,
    .cancel = ep_cancel,
};
