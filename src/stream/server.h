/* The server object, shared by server.c (binding, accessors, closing,
 * freeing) and server_accept.c (accept loops, connection tasks, waiting).
 *
 * Lifetime: connection tasks and accept tasks can outlive
 * cio_server_free, so the server is freed by whichever of free, the last
 * connection task, the last accept task and the last task waiting in a
 * server call comes last (cio__server_maybe_free).
 * Streams carry no server fields: each connection has its own record. */
#ifndef CIO_SERVER_INTERNAL_H
#define CIO_SERVER_INTERNAL_H

#include <sys/socket.h>
#include <sys/types.h>

#include "core/internal.h"

/* One listening socket and its accept task. */
typedef struct srv_listener {
    struct cio_server *srv;
    int fd; /* -1 once closed */
    int family;
    bool io_open;
    cio__io io;                   /* must not move once open: the array is never resized */
    cio_task *task;               /* accept task handle, NULL when none runs */
    struct sockaddr_storage addr; /* bound address (the port the kernel picked) */
    socklen_t addrlen;
} srv_listener;

/* One live connection: the task running the handler and its stream. */
typedef struct srv_conn {
    cio__node node; /* srv->conns */
    struct cio_server *srv;
    cio_stream *s; /* the server's reference, released when the handler returns */
    cio_task *task;
} srv_conn;

struct cio_server {
    cio_conn_handler handler;
    void *arg;
    cio_server_opts opts;
    srv_listener *ls;
    size_t nls;
    cio__node conns; /* srv_conn list */
    size_t nconns;
    size_t naccept;          /* accept tasks that have not ended yet */
    cio__node close_waiters; /* serve_forever: woken by close */
    cio__node done_waiters;  /* wait_closed/shutdown: closed and connections gone */
    cio_task *forever;       /* the task in serve_forever */
    size_t nwaiters;         /* tasks inside serve_forever/wait_closed/shutdown */
    char *unix_path;         /* socket file to remove on close (NULL: none/abstract) */
    dev_t unix_dev;
    ino_t unix_ino;
    bool serving;
    bool closed;
    bool detached; /* cio_server_free was called; tasks free it */
};

/* server_accept.c */
int cio__server_spawn_acceptors(struct cio_server *srv);
/* A connection or accept task ended: wake waiters, free if detached. */
void cio__server_task_gone(struct cio_server *srv);

/* server.c */
void cio__server_maybe_free(struct cio_server *srv);

#endif
