/* cio streams: asyncio's StreamReader/StreamWriter over TCP, Unix sockets
 * (and TLS, pipes) as one handle, cio_stream.
 *
 * Semantics follow asyncio (docs/streams.md, docs/asyncio-mapping.md):
 * limits, readline/readuntil/readexactly, write + drain with water marks,
 * write_eof, graceful close.  Where cio does better than asyncio it says so
 * ("beyond asyncio").
 *
 * Lifetime: a stream handle is reference-counted.  cio_open_connection and
 * friends return one reference; cio_stream_retain adds one (a second task
 * reading while another writes); cio_stream_release drops one.  Dropping
 * the last reference of a stream that is not closed yet closes it
 * gracefully in the background (flush, then close; bounded by the close
 * timeout).  cio_close / cio_wait_closed do not release.
 *
 * Reads are by one task at a time: a second task that would have to wait
 * gets -EBUSY.  A read that is cancelled or times out consumes nothing. */
#ifndef CIO_STREAM_H
#define CIO_STREAM_H

#ifndef CIO_H
#error "include <cio.h>, not <cio/stream.h>"
#endif

#include <sys/socket.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_stream cio_stream;
typedef struct cio_server cio_server;
typedef struct cio_tls_ctx cio_tls_ctx;

#define CIO_DEFAULT_LIMIT 65536              /* asyncio's _DEFAULT_LIMIT */
#define CIO_DEFAULT_HIGH_WATER (64u * 1024u) /* TCP/Unix; TLS uses 512 KiB */
#define CIO_DEFAULT_CLOSE_TIMEOUT 30.0       /* bound of a graceful close */
#define CIO_DEFAULT_TLS_HANDSHAKE_TIMEOUT 60.0
#define CIO_DEFAULT_TLS_SHUTDOWN_TIMEOUT 30.0

/* Per-stream settings shared by connections and servers.  Every option
 * struct of cio is valid zero-initialised, and 0 means "the default" in
 * every field: set only the fields you change.  NULL also means all
 * defaults.  The *_OPTS_INIT macros are that zero value. */
typedef struct cio_stream_opts {
    ssize_t limit;        /* reader limit (0: 64 KiB); < 0 is -EINVAL */
    size_t high_water;    /* 0: the transport's default */
    size_t low_water;     /* 0: high_water / 4 */
    double close_timeout; /* graceful close bound, seconds (0: 30); < 0 is -EINVAL */
} cio_stream_opts;
#define CIO_STREAM_OPTS_INIT                                                                       \
    {                                                                                              \
        0                                                                                          \
    }

/* ======================================================================
 * Opening connections
 * ====================================================================== */

typedef struct cio_connect_opts {
    cio_stream_opts stream;
    int family;             /* AF_UNSPEC (default), AF_INET or AF_INET6 */
    const char *local_host; /* bind before connecting (asyncio local_addr) */
    uint16_t local_port;
    /* RFC 8305 stagger, seconds (0: 0.25); CIO_HAPPY_EYEBALLS_OFF (any
     * value < 0) tries the addresses one at a time. */
    double happy_eyeballs_delay;
    /* TLS (see cio/tls.h); NULL for plain TCP. */
    cio_tls_ctx *tls;
    const char *server_hostname;  /* SNI and verification; defaults to host */
    double tls_handshake_timeout; /* 0: 60 s */
    double tls_shutdown_timeout;  /* 0: 30 s */
} cio_connect_opts;
#define CIO_CONNECT_OPTS_INIT                                                                      \
    {                                                                                              \
        0                                                                                          \
    }
#define CIO_HAPPY_EYEBALLS_OFF (-1.0)

/* asyncio.open_connection(host, port): resolve host (numeric addresses at
 * once, names through the thread pool), connect with Happy Eyeballs, and
 * return a stream in *out.  opts may be NULL.  Errors: -ECONNREFUSED,
 * -ETIMEDOUT, -ENETUNREACH, ... (with several addresses failing, the
 * first address's error), CIO_EAI_* for resolution, -EINVAL. */
CIO_EXTERN int cio_open_connection(cio_stream **out, const char *host, uint16_t port,
                                   const cio_connect_opts *opts);

/* asyncio.open_unix_connection(path).  A leading '@' names an abstract
 * socket ("@name" is "\0name" on the wire).  -ENOENT if path does not
 * exist, -ENAMETOOLONG if it does not fit a sockaddr_un. */
CIO_EXTERN int cio_open_unix_connection(cio_stream **out, const char *path,
                                        const cio_connect_opts *opts);

/* asyncio.open_connection(sock=fd): adopt an already connected socket
 * (e.g. one end of socketpair()) or a pipe end (then it is not a socket:
 * no write_eof, no addresses).  The stream owns fd from now on (even on
 * failure, fd is closed).  opts may be NULL. */
CIO_EXTERN int cio_stream_from_fd(cio_stream **out, int fd, const cio_stream_opts *opts);

/* ======================================================================
 * Reading
 * ====================================================================== */

/* read(n): wait for at least one byte (or EOF) and return up to n bytes;
 * 0 means EOF; n == 0 returns 0 at once.  Not bounded by the limit. */
CIO_EXTERN ssize_t cio_read(cio_stream *s, void *buf, size_t n);

/* read(-1): everything until EOF, in a malloc'd buffer (*data, free with
 * free()).  Returns the byte count.  On an error part-way, returns the
 * error and still hands over the bytes gathered so far in *data / *len
 * (beyond asyncio, which loses them).  *data is NULL when *len is 0. */
CIO_EXTERN ssize_t cio_read_all(cio_stream *s, char **data, size_t *len);

/* readexactly(n): exactly n bytes into buf, returning n.  If EOF comes
 * first: CIO_EINCOMPLETE, with the partial bytes copied to buf and their
 * count in *partial (asyncio's IncompleteReadError.partial); they are
 * consumed.  partial may be NULL.  n == 0 returns 0 at once. */
CIO_EXTERN ssize_t cio_readexactly(cio_stream *s, void *buf, size_t n, size_t *partial);

/* readuntil(separator): the data up to and including the separator, into
 * buf; returns its length.
 *  - CIO_ELIMIT: the data before the separator would exceed the limit
 *    (asyncio LimitOverrunError); nothing is consumed and
 *    cio_stream_overrun_consumed() tells how many bytes were scanned.
 *  - CIO_EINCOMPLETE: EOF before a separator; the partial data stays in
 *    the stream (read it with cio_read) — it is never lost.
 *  - CIO_EBUFSIZE: the chunk is within the limit but longer than cap;
 *    nothing is consumed (retry with a buffer of cio_stream_needed()).
 *  - -EINVAL: empty separator. */
CIO_EXTERN ssize_t cio_readuntil(cio_stream *s, const void *sep, size_t seplen, void *buf,
                                 size_t cap);
/* readuntil((sep1, sep2, ...)) (asyncio 3.13): the match that ends first
 * wins; on a tie, the shorter separator.  nseps == 0 or an empty
 * separator is -EINVAL. */
CIO_EXTERN ssize_t cio_readuntil_any(cio_stream *s, const struct iovec *seps, size_t nseps,
                                     void *buf, size_t cap);

/* readline(): readuntil("\n"), except that at EOF the partial last line
 * (possibly empty: 0) is returned normally.  An over-long line returns
 * CIO_ELIMIT and the stream resynchronises on the next line: the rest of
 * the bad line is discarded, even the part that has not arrived yet
 * (beyond asyncio).  CIO_EBUFSIZE as for cio_readuntil. */
CIO_EXTERN ssize_t cio_readline(cio_stream *s, void *buf, size_t cap);

/* cio_readline without a copy: *view points into the stream's buffer,
 * valid until the next read call on the stream.  No CIO_EBUFSIZE. */
CIO_EXTERN ssize_t cio_readline_view(cio_stream *s, const char **view);
/* cio_readuntil without a copy; *view as for cio_readline_view. */
CIO_EXTERN ssize_t cio_readuntil_view(cio_stream *s, const void *sep, size_t seplen,
                                      const char **view);

/* at_eof(): EOF received and the buffer is empty.  A stream closed
 * without an error (close, abort) counts as at EOF, as in asyncio. */
CIO_EXTERN bool cio_at_eof(const cio_stream *s);
/* Bytes buffered and not yet read. */
CIO_EXTERN size_t cio_stream_buffered(const cio_stream *s);
/* After CIO_ELIMIT: asyncio's LimitOverrunError.consumed. */
CIO_EXTERN size_t cio_stream_overrun_consumed(const cio_stream *s);
/* After CIO_EBUFSIZE: the buffer size the chunk needs. */
CIO_EXTERN size_t cio_stream_needed(const cio_stream *s);
/* The reader limit (asyncio's limit=). */
CIO_EXTERN size_t cio_stream_limit(const cio_stream *s);

/* ======================================================================
 * Writing
 * ====================================================================== */

/* write(data): never blocks.  Sends at once if nothing is queued, and
 * copies what the socket did not take into the write queue.  Empty data
 * is a no-op.  Errors: -ESHUTDOWN after write_eof or close; the error that
 * ended the connection (-ECONNRESET, -EPIPE, ...) once it is lost; -ENOMEM
 * (nothing queued). */
CIO_EXTERN int cio_write(cio_stream *s, const void *data, size_t len);
/* writelines(): the buffers in order, in one send where possible. */
CIO_EXTERN int cio_writev(cio_stream *s, const struct iovec *iov, int iovcnt);

/* drain(): returns at once while the queue is at or below the high water
 * mark; otherwise waits until it falls to the low water mark.  Returns
 * the connection's error if it is lost (to every drainer, promptly) or if
 * queued data was discarded by cio_abort (-ECONNABORTED).  On a closing
 * stream it yields once and then, if the stream is closed, returns the
 * error that ended it or -ECONNRESET (asyncio's ConnectionResetError),
 * at every call.  After a budget
 * of writes that never had to wait it yields, so a write+drain loop on a
 * fast socket cannot starve other tasks. */
CIO_EXTERN int cio_drain(cio_stream *s);

/* Set the write buffer water marks (asyncio set_write_buffer_limits):
 * high == 0 selects the default, low == 0 selects high/4; -EINVAL if
 * low > high. */
CIO_EXTERN int cio_set_write_buffer_limits(cio_stream *s, size_t high, size_t low);
/* Bytes queued and not yet handed to the kernel. */
CIO_EXTERN size_t cio_write_buffer_size(const cio_stream *s);

/* write_eof(): shut down the write side once the queue is flushed.  On
 * the write end of a pipe that closes the stream (as asyncio's write pipe
 * transport does).  No-op when already done; -ENOTSUP where
 * cio_can_write_eof is false. */
CIO_EXTERN int cio_write_eof(cio_stream *s);
/* True for TCP and Unix sockets and the write end of a pipe; false for
 * TLS and for other fds. */
CIO_EXTERN bool cio_can_write_eof(const cio_stream *s);

/* close(): graceful — stop reading, flush the queue, then close the
 * socket; bounded by the close timeout, after which it aborts.  Does not
 * block and does not release the handle.  Idempotent. */
CIO_EXTERN void cio_close(cio_stream *s);
/* abort(): close now, discarding queued data.  Afterwards cio_write and
 * cio_drain return -ECONNABORTED (asyncio: the connection is lost);
 * pending reads see EOF after the bytes already buffered. */
CIO_EXTERN void cio_abort(cio_stream *s);
/* True after close, abort or a fatal error; not after peer EOF. */
CIO_EXTERN bool cio_is_closing(const cio_stream *s);
/* wait_closed(): wait until the connection is fully closed; returns the
 * error that ended it (0 for a clean close).  Many waiters allowed. */
CIO_EXTERN int cio_wait_closed(cio_stream *s);

/* Add a holder (e.g. a writer task beside the reader task). */
CIO_EXTERN void cio_stream_retain(cio_stream *s);
/* Drop a holder.  The last release of a stream that is not closed closes
 * it gracefully in the background (bounded by the close timeout); the
 * memory goes when it is closed.  NULL is ignored. */
CIO_EXTERN void cio_stream_release(cio_stream *s);

/* ---- extra info (get_extra_info) --------------------------------------- */

/* 'peername' / 'sockname': copies the address; -ENOTCONN, -EINVAL if *len
 * is too small (it is set to the size needed), -ENOTSOCK for pipes. */
CIO_EXTERN int cio_stream_peername(const cio_stream *s, struct sockaddr *addr, socklen_t *len);
/* 'sockname': the local address; as cio_stream_peername. */
CIO_EXTERN int cio_stream_sockname(const cio_stream *s, struct sockaddr *addr, socklen_t *len);
/* 'socket': the file descriptor, or -EBADF once closed. */
CIO_EXTERN int cio_stream_fd(const cio_stream *s);
/* Format an address as "1.2.3.4:80", "[::1]:80", a Unix path or "@name"
 * for an abstract one.  Returns the length, -ENOSPC if cap is too small,
 * -EAFNOSUPPORT for other families. */
CIO_EXTERN int cio_addr_format(const struct sockaddr *addr, socklen_t len, char *buf, size_t cap);

/* ======================================================================
 * Servers
 * ====================================================================== */

/* Runs in its own task for each accepted connection (named "cio-conn
 * <peer address>").  When it returns, the server releases its reference
 * to the stream, which closes it gracefully (flushing what is queued)
 * unless the handler retained it (cio_stream_retain).
 *
 * Every server call is made from the loop's thread while cio_run runs;
 * the blocking ones (start, serve_forever, wait_closed, shutdown) from a
 * task. */
typedef void (*cio_conn_handler)(cio_stream *s, void *arg);

typedef struct cio_server_opts {
    cio_stream_opts stream;
    int backlog;           /* listen backlog (0: 100); < 0 is -EINVAL */
    bool no_reuse_address; /* do not set SO_REUSEADDR (asyncio reuse_address=False) */
    bool reuse_port;       /* SO_REUSEPORT */
    bool keep_alive;       /* SO_KEEPALIVE on accepted sockets */
    bool no_start_serving; /* accept only after cio_server_start_serving (start_serving=False) */
    int family;            /* AF_UNSPEC (0): every family the host has */
    /* TLS (see cio/tls.h) */
    cio_tls_ctx *tls;
    double tls_handshake_timeout; /* 0: 60 s */
    double tls_shutdown_timeout;  /* 0: 30 s */
} cio_server_opts;
#define CIO_SERVER_OPTS_INIT                                                                       \
    {                                                                                              \
        0                                                                                          \
    }

/* asyncio.start_server(handler, host, port).  host NULL or "" binds every
 * interface: 0.0.0.0 and :: as two sockets (IPV6_V6ONLY on); a
 * comma-separated list ("127.0.0.1,::1") binds each address its names
 * resolve to.  port 0 picks a free port; with several sockets the others
 * reuse the port the first one got when it is free in their family, and
 * get their own otherwise (asyncio always gives each its own).  An address
 * that cannot be assigned (EADDRNOTAVAIL, EAFNOSUPPORT: ::1 without IPv6)
 * is skipped; if nothing can be bound that error is returned.  The sockets
 * listen at once, even with start_serving off (connections then wait in
 * the backlog).  Errors: -EADDRINUSE, -EACCES, ..., CIO_EAI_* for names,
 * -EINVAL (bad options, no handler, a TLS context that is not a server
 * one), -ENOMEM.  opts may be NULL.
 *
 * With opts->tls, each connection's task runs the TLS handshake (bounded
 * by tls_handshake_timeout) before the handler; a connection whose
 * handshake fails is closed without calling the handler.  The server
 * holds its own reference to the context. */
CIO_EXTERN int cio_start_server(cio_server **out, cio_conn_handler handler, void *arg,
                                const char *host, uint16_t port, const cio_server_opts *opts);
/* asyncio.start_unix_server(handler, path).  A stale socket file at path
 * (a socket nobody accepts on: connecting is refused) is removed first;
 * -EADDRINUSE if a live server answers there, or if path is another kind
 * of file (left alone).  The file is removed on close if it is still ours
 * (same inode).  A leading '@' names an abstract socket (no file). */
CIO_EXTERN int cio_start_unix_server(cio_server **out, cio_conn_handler handler, void *arg,
                                     const char *path, const cio_server_opts *opts);

/* The port of the first listening socket (handy with port 0); 0 for Unix
 * sockets and once closed. */
CIO_EXTERN uint16_t cio_server_port(const cio_server *srv);
/* Number of listening sockets (0 once closed, like asyncio's
 * Server.sockets); their addresses via cio_server_sockname, which fails
 * with -EINVAL for a bad index or a *len too small (set to the size
 * needed), -EBADF once closed. */
CIO_EXTERN size_t cio_server_nsockets(const cio_server *srv);
CIO_EXTERN int cio_server_sockname(const cio_server *srv, size_t i, struct sockaddr *addr,
                                   socklen_t *len);
/* Start accepting (when created with start_serving off); 0 if already
 * serving, -EBADF once closed. */
CIO_EXTERN int cio_server_start_serving(cio_server *srv);
/* True while accepting (Server.is_serving()). */
CIO_EXTERN bool cio_server_is_serving(const cio_server *srv);
/* Run until the server is closed (returns 0) or the calling task is
 * cancelled (closes the server, returns -ECANCELED; live connections go
 * on, and unlike asyncio it does not wait for them).  -EBUSY if another
 * serve_forever is running, -EBADF on a closed server. */
CIO_EXTERN int cio_server_serve_forever(cio_server *srv);
/* Stop listening at once (the Unix socket file is removed if ours); live
 * connections keep running.  Idempotent. */
CIO_EXTERN void cio_server_close(cio_server *srv);
/* Wait until the server is closed and every connection task has ended
 * (many waiters; returns at once afterwards).  Called from a handler, it
 * does not wait for the handler's own task.  0 or an interrupt. */
CIO_EXTERN int cio_server_wait_closed(cio_server *srv);
/* Close (gracefully) / abort the stream of every connection whose handler
 * is still running (a stream a handler retained and returned from is the
 * handler's).  The handlers' pending reads see EOF. */
CIO_EXTERN void cio_server_close_clients(cio_server *srv);
/* Abort (cio_abort) the stream of every live connection; see above. */
CIO_EXTERN void cio_server_abort_clients(cio_server *srv);
/* Beyond asyncio: stop accepting, let connections finish for up to grace
 * seconds (< 0: no bound), then abort the rest and cancel their tasks;
 * returns when all have ended, so it never hangs on an idle client.
 * Returns 0 (the grace running out is not an error), or -ECANCELED /
 * -ETIMEDOUT if the caller was interrupted, in which case the rest are
 * aborted at once and still waited for. */
CIO_EXTERN int cio_server_shutdown(cio_server *srv, double grace);
/* Free the server (closing it first if needed, without waiting for its
 * connections, which finish on their own: the memory they use is released
 * when the last one ends). */
CIO_EXTERN void cio_server_free(cio_server *srv);

#ifdef __cplusplus
}
#endif

#endif
