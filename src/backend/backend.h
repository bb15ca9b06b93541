/* The backend seam: how the loop does I/O.
 *
 * The layers above ask for operations — accept, connect, recv into a
 * buffer, send an iovec, poll for readable/writable — and get
 * completions (cio__op).  An operation either completes at once or
 * later, in loop context, through op->done; an operation that has not
 * completed can be cancelled, and a cancel that comes too late says so,
 * so the caller keeps the result (the bytes a recv put in its buffer).
 *
 * epoll and poll are readiness backends: they implement operations as
 * "try the syscall; on EAGAIN wait for readiness; retry" (backend/ready.c),
 * below the seam.  A completion backend (io_uring) submits the operations
 * themselves.  Either way the buffers belong to the submitter, who must
 * keep them valid until the operation completes or is cancelled.
 *
 * Under the operations is the registration of each fd (cio__io).
 * Owner-driven watchers (streams, whose hot path tries its syscalls
 * itself with readiness hints, and the loop's eventfd) take readiness
 * through io->on_ready instead.  A backend keeps its state in its own
 * struct (cio__backend_state) and calls back only through op->done and
 * io->on_ready: it knows nothing of the loop. */
#ifndef CIO_BACKEND_H
#define CIO_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "cio.h"

enum { CIO__IO_READ = 1, CIO__IO_WRITE = 2 };

/* One registered fd.  Readiness is edge-triggered from the user's point of
 * view: try the syscall first, and wait only after EAGAIN. */
typedef struct cio__io {
    int fd;
    int poll_index; /* backend-private (poll) */
    bool want_read; /* interest, for level-triggered backends (poll) */
    bool want_write;
    bool closed;
    /* Foreign fd: readiness is re-checked at every wait, since its owner
     * may wait without having seen EAGAIN first. */
    bool level;
    /* The peer hung up or the fd failed (edge backends): no further edge
     * will come, so readers must keep trying until EOF or the error. */
    bool hup;
    bool error;            /* the backend reported an error (EPOLLERR/POLLERR) */
    struct cio__op *rd_op; /* the pending operation waiting to read, if any */
    struct cio__op *wr_op; /* ... and to write */
    /* Owner-driven watchers (streams, the loop's eventfd): called on
     * readiness instead of waking reader/writer. */
    void (*on_ready)(struct cio__io *io, bool readable, bool writable);
} cio__io;

enum cio__op_kind {
    CIO__OP_POLL,    /* wait until readable (dir CIO__IO_READ) or writable: 0 */
    CIO__OP_ACCEPT,  /* a connection: its fd (non-blocking, close-on-exec) */
    CIO__OP_CONNECT, /* connect a non-blocking socket: 0 */
    CIO__OP_RECV,    /* bytes into buf: > 0, 0 at EOF */
    CIO__OP_SEND,    /* bytes from iov (MSG_NOSIGNAL): the count sent */
};

/* One operation on a registered fd.  The submitter fills in kind, the
 * arguments, done and owner; results are >= 0 or -errno (-EBADF when the
 * fd is deregistered first). */
typedef struct cio__op {
    uint8_t kind;
    uint8_t dir;  /* CIO__OP_POLL: CIO__IO_READ or CIO__IO_WRITE */
    bool started; /* backend-private (a connect in progress) */
    cio__io *io;
    union {
        struct {
            struct sockaddr *addr; /* may be NULL */
            socklen_t *len;
        } accept;
        struct {
            const struct sockaddr *addr;
            socklen_t len;
        } connect;
        struct {
            void *buf;
            size_t len;
        } recv;
        struct {
            const struct iovec *iov;
            int iovcnt;
        } send;
    } u;
    ssize_t result;
    /* Called once, in loop context, when an operation that did not
     * complete at submission completes. */
    void (*done)(struct cio__op *op);
    void *owner; /* for done */
} cio__op;

/* Each backend defines this struct for itself. */
typedef struct cio__backend_state cio__backend_state;

typedef struct cio__backend {
    const char *name;
    int (*init)(cio__backend_state **out);
    void (*term)(cio__backend_state *st);
    int (*add)(cio__backend_state *st, cio__io *io);
    void (*del)(cio__backend_state *st, cio__io *io);
    /* Interest changed (want_read/want_write). */
    int (*update)(cio__backend_state *st, cio__io *io);
    /* Wait at most timeout_ns (-1 forever, 0 poll), complete the
     * operations that can, and report readiness to owner-driven watchers. */
    int (*poll)(cio__backend_state *st, int64_t timeout_ns);
    /* Start op on op->io: its result when it completes at once (done is
     * not called), -EINPROGRESS when it will complete through done, or
     * -EEXIST when another operation already waits in its direction. */
    ssize_t (*submit)(cio__backend_state *st, cio__op *op);
    /* Withdraw an operation that returned -EINPROGRESS: 0 when withdrawn
     * (done will not be called), -EALREADY when it completed first (its
     * result stands). */
    int (*cancel)(cio__backend_state *st, cio__op *op);
} cio__backend;

extern const cio__backend cio__backend_epoll;
extern const cio__backend cio__backend_poll;

/* ---- backend/ready.c: operations over readiness (epoll, poll) ---- */

/* Submit: try at once, else attach op to its fd's slot for its direction
 * and ask for that direction (want_read/want_write). */
ssize_t cio__ready_submit(cio__op *op);
int cio__ready_cancel(cio__op *op);
/* A readiness event for io: retry its operations, or tell its owner. */
void cio__ready_event(cio__io *io, bool readable, bool writable, bool error);
/* io is being deregistered: its pending operations complete with -EBADF. */
void cio__ready_close(cio__io *io);

#endif
