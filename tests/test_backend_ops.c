/* The backend's operation seam (src/backend/backend.h), on every backend:
 * operations complete at once or later, one per direction, -EBADF when
 * the fd is deregistered, and an interrupt never loses a result that was
 * already there (a recv's bytes, an accepted connection). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/loop.h"
#include "helpers.h"

TestSuite(backend_ops, .timeout = 30);

static void nb_pair(int sv[2])
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

struct recv_task {
    cio__io *io;
    char buf[16];
    ssize_t rc;
};

static intptr_t recv_main(void *arg)
{
    struct recv_task *r = arg;
    cio__op op = {.kind = CIO__OP_RECV, .u.recv = {.buf = r->buf, .len = sizeof(r->buf)}};
    r->rc = cio__io_run(r->io, &op);
    return 0;
}

TASK_TEST(backend_ops, recv_completes_at_once_or_when_data_arrives)
{
    int sv[2];
    nb_pair(sv);
    cio__io io;
    cr_assert_eq(cio__io_open(&io, sv[0]), 0);
    cr_assert_eq(write(sv[1], "now", 3), 3);
    char buf[8];
    cio__op op = {.kind = CIO__OP_RECV, .u.recv = {.buf = buf, .len = sizeof(buf)}};
    cr_assert_eq(cio__io_run(&io, &op), 3, "data already there: at once");
    cr_assert(memcmp(buf, "now", 3) == 0);

    struct recv_task r = {.io = &io};
    cio_task *t = t_spawn(recv_main, &r);
    t_yield_n(3);
    cr_assert(!cio_task_done(t), "the recv did not wait for data");
    cr_assert_eq(write(sv[1], "later", 5), 5);
    t_join(t);
    cr_assert_eq(r.rc, 5);
    cr_assert(memcmp(r.buf, "later", 5) == 0);
    cio__io_close(&io);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

static void count_done(cio__op *op)
{
    (*(int *)op->owner)++;
}

/* The seam's contract itself, driven by hand: a cancel that comes after
 * the backend completed the operation says so, and the result stands. */
TASK_TEST(backend_ops, cancel_after_completion_is_EALREADY_and_the_bytes_stay)
{
    cio_loop *loop = cio__loop();
    int sv[2];
    nb_pair(sv);
    cio__io io;
    cr_assert_eq(cio__io_open(&io, sv[0]), 0);
    char buf[8];
    int done = 0;
    cio__op op = {.kind = CIO__OP_RECV,
                  .io = &io,
                  .u.recv = {buf, sizeof(buf)},
                  .done = count_done,
                  .owner = &done};
    cr_assert_eq(loop->backend->submit(loop->backend_state, &op), -EINPROGRESS);
    cr_assert_eq(write(sv[1], "kept", 4), 4);
    for (int i = 0; i < 100 && !done; i++)
        cr_assert_eq(loop->backend->poll(loop->backend_state, 100 * 1000 * 1000), 0);
    cr_assert_eq(done, 1, "the backend did not complete the recv");
    cr_assert_eq(loop->backend->cancel(loop->backend_state, &op), -EALREADY);
    cr_assert_eq(op.result, 4);
    cr_assert(memcmp(buf, "kept", 4) == 0);

    /* Still pending: withdrawn, and done never runs. */
    cio__op op2 = {.kind = CIO__OP_RECV,
                   .io = &io,
                   .u.recv = {buf, sizeof(buf)},
                   .done = count_done,
                   .owner = &done};
    cr_assert_eq(loop->backend->submit(loop->backend_state, &op2), -EINPROGRESS);
    cr_assert_eq(loop->backend->cancel(loop->backend_state, &op2), 0);
    cr_assert_eq(write(sv[1], "x", 1), 1);
    cr_assert_eq(loop->backend->poll(loop->backend_state, 0), 0);
    cr_assert_eq(done, 1);
    cio__io_close(&io);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

/* Through a task: whichever reaches the task first, the data or the
 * cancellation, no byte is lost. */
TASK_TEST(backend_ops, a_recv_cancelled_as_its_data_comes_loses_nothing)
{
    int sv[2];
    nb_pair(sv);
    cio__io io;
    cr_assert_eq(cio__io_open(&io, sv[0]), 0);
    for (int round = 0; round < 50; round++) {
        struct recv_task r = {.io = &io};
        cio_task *t = t_spawn(recv_main, &r);
        t_yield_n(round % 4);
        cr_assert_eq(write(sv[1], "kept", 4), 4);
        if (round % 2)
            cr_assert_eq(cio_wait_writable(sv[1]), 0); /* let the loop poll */
        cio_cancel(t);
        t_join(t);
        if (r.rc == -ECANCELED) {
            char buf[8];
            cr_assert_eq(read(sv[0], buf, sizeof(buf)), 4, "round %d: the bytes are gone", round);
        } else {
            cr_assert_eq(r.rc, 4, "round %d: recv returned %zd", round, r.rc);
        }
    }
    cio__io_close(&io);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

TASK_TEST(backend_ops, a_recv_interrupted_before_data_reads_nothing)
{
    int sv[2];
    nb_pair(sv);
    cio__io io;
    cr_assert_eq(cio__io_open(&io, sv[0]), 0);
    struct recv_task r = {.io = &io};
    cio_task *t = t_spawn(recv_main, &r);
    t_yield_n(3);
    cio_cancel(t);
    t_join(t);
    cr_assert_eq(r.rc, -ECANCELED);
    /* Withdrawn: a later write is for the next reader. */
    cr_assert_eq(write(sv[1], "next", 4), 4);
    char buf[8];
    cio__op op = {.kind = CIO__OP_RECV, .u.recv = {.buf = buf, .len = sizeof(buf)}};
    cr_assert_eq(cio__io_run(&io, &op), 4);
    cio__io_close(&io);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

TASK_TEST(backend_ops, one_operation_per_direction_and_close_ends_them)
{
    int sv[2];
    nb_pair(sv);
    cio__io io;
    cr_assert_eq(cio__io_open(&io, sv[0]), 0);
    struct recv_task r = {.io = &io};
    cio_task *t = t_spawn(recv_main, &r);
    t_yield_n(3);
    char buf[4];
    cio__op op = {.kind = CIO__OP_RECV, .u.recv = {.buf = buf, .len = sizeof(buf)}};
    cr_assert_eq(cio__io_run(&io, &op), -EEXIST);
    cio__op poll = {.kind = CIO__OP_POLL, .dir = CIO__IO_READ};
    cr_assert_eq(cio__io_run(&io, &poll), -EEXIST);
    /* The other direction is free: a socketpair is writable. */
    cr_assert_eq(cio__io_wait(&io, CIO__IO_WRITE), 0);
    cio__io_close(&io);
    t_join(t);
    cr_assert_eq(r.rc, -EBADF);
    cr_assert_eq(cio__io_run(&io, &op), -EBADF);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

TASK_TEST(backend_ops, accept_connect_and_send_over_loopback)
{
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    cr_assert_eq(bind(ls, (struct sockaddr *)&sa, len), 0);
    cr_assert_eq(listen(ls, 4), 0);
    cr_assert_eq(getsockname(ls, (struct sockaddr *)&sa, &len), 0);
    cio__io lio, cio;
    cr_assert_eq(cio__io_open(&lio, ls), 0);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    cr_assert_eq(cio__io_open(&cio, c), 0);
    cio__op conn = {.kind = CIO__OP_CONNECT, .u.connect = {(struct sockaddr *)&sa, len}};
    cr_assert_eq(cio__io_run(&cio, &conn), 0);
    struct sockaddr_storage peer;
    socklen_t plen = sizeof(peer);
    cio__op acc = {.kind = CIO__OP_ACCEPT, .u.accept = {(struct sockaddr *)&peer, &plen}};
    int fd = (int)cio__io_run(&lio, &acc);
    cr_assert_geq(fd, 0, "accept: %d", fd);
    cr_assert_eq(peer.ss_family, AF_INET);
    cr_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
    struct iovec iov[2] = {{"he", 2}, {"llo", 3}};
    cio__op snd = {.kind = CIO__OP_SEND, .u.send = {iov, 2}};
    cr_assert_eq(cio__io_run(&cio, &snd), 5);
    cio__io aio;
    cr_assert_eq(cio__io_open(&aio, fd), 0);
    char buf[8];
    cio__op rcv = {.kind = CIO__OP_RECV, .u.recv = {buf, sizeof(buf)}};
    cr_assert_eq(cio__io_run(&aio, &rcv), 5);
    cr_assert(memcmp(buf, "hello", 5) == 0);
    /* A refused connect completes with the error. */
    cio__io_close(&lio);
    close(ls);
    int c2 = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    cio__io c2io;
    cr_assert_eq(cio__io_open(&c2io, c2), 0);
    cio__op refused = {.kind = CIO__OP_CONNECT, .u.connect = {(struct sockaddr *)&sa, len}};
    cr_assert_eq(cio__io_run(&c2io, &refused), -ECONNREFUSED);
    cio__io_close(&c2io);
    cio__io_close(&aio);
    cio__io_close(&cio);
    close(c2);
    close(fd);
    close(c);
    return 0;
}
