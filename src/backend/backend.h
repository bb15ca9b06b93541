/* The backend seam: how the loop waits for I/O.
 *
 * Two levels.  The registration level (add/del/update/poll) is what a
 * readiness backend is: the loop registers each fd once as a cio__io and
 * the backend reports readiness through cio__io_ready.  The operation
 * level (backend/ops.h) is what the layers above use: accept, connect,
 * recv, send and poll-for-readiness as operations that complete with a
 * result.  epoll and poll implement the operations as "try the syscall;
 * on EAGAIN wait for readiness; retry" (backend/ready_ops.c); a
 * completion backend (io_uring) submits them instead.
 *
 * Nothing here knows the loop's structure: a backend keeps its state in
 * its own struct (cio__backend_state, defined by each backend) and calls
 * back into the loop only through cio__io_ready. */
#ifndef CIO_BACKEND_H
#define CIO_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

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
    bool error;       /* the backend reported an error (EPOLLERR/POLLERR) */
    cio_task *reader; /* task parked in cio__io_wait for readability */
    cio_task *writer; /* task parked in cio__io_wait for writability */
    /* Owner-driven watchers (streams, the loop's eventfd): called on
     * readiness instead of waking reader/writer. */
    void (*on_ready)(struct cio__io *io, bool readable, bool writable);
} cio__io;

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
    /* Wait at most timeout_ns (-1 forever, 0 poll) and report each ready
     * fd through cio__io_ready. */
    int (*poll)(cio__backend_state *st, int64_t timeout_ns);
} cio__backend;

extern const cio__backend cio__backend_epoll;
extern const cio__backend cio__backend_poll;

/* Implemented by the loop (core/io.c): called by backends for each ready fd. */
void cio__io_ready(cio__io *io, bool readable, bool writable, bool error);

#endif
