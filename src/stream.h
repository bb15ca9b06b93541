/* The stream object and the transport seam under it.
 *
 * A stream is a reader (an owned, growable read buffer filled on demand)
 * and a writer (a queue of outgoing chunks flushed by the loop when the
 * fd is writable) over a transport.  The reader and writer code
 * (stream_read.c, stream_write.c) only talks to the transport through
 * cio__transport, so TLS and pipes are further transports with no special
 * cases there.
 *
 * Reads are pulled: a read call that needs data asks the transport for
 * more (up to 256 KiB at a time), so the buffer never holds more than a
 * read needs plus one chunk, and asyncio's pause-above-2x-limit rule holds
 * by construction.  Writes are pushed: cio_write sends what it can at once
 * and queues the rest; the fd's writable events flush the queue in loop
 * context, which is what lets close() complete in the background. */
#ifndef CIO_STREAM_INTERNAL_H
#define CIO_STREAM_INTERNAL_H

#include <sys/socket.h>

#include "buf.h"
#include "internal.h"

enum { CIO__READ_CHUNK = 256 * 1024 };

typedef struct cio__transport cio__transport;

/* One queued outgoing chunk. */
typedef struct cio__chunk {
    cio__node node;
    size_t off, len, cap;
    char data[];
} cio__chunk;

struct cio_stream {
    /* ---- hot: what every read, write, drain and readiness event touches,
     * packed into the first cache lines.  With a thousand connections a
     * stream's lines leave the CPU's L2 between two of its requests, so
     * each further line touched is a cache miss per request. */
    cio__io io;
    const cio__transport *tp;
    cio_task *reader; /* task waiting for data (one at a time) */
    int fd;
    bool rd_ready;  /* the fd may have data (edge hint) */
    bool wr_ready;  /* the fd may take data (edge hint) */
    bool is_socket; /* recv/send vs read/write (pipes) */
    bool eof;       /* EOF received from the transport */
    cio__buf rbuf;
    size_t wqueued; /* bytes in wqueue */
    size_t high_water;
    size_t drain_budget; /* bytes written since the writer last waited */
    int read_error;      /* delivered once the buffer is consumed */
    int write_error;     /* sticky: the error that ended writing */
    bool discard_line;   /* readline resync: drop input through the next '\n' */
    bool closing;        /* close or abort requested, or fatal error */
    bool eof_requested;  /* write_eof called: shut down when flushed */
    bool closed;         /* fd closed */

    /* ---- reader ---- */
    size_t limit;
    size_t overrun_consumed; /* CIO_ELIMIT detail */
    size_t needed;           /* CIO_EBUFSIZE detail */

    /* ---- writer ---- */
    cio__node wqueue; /* cio__chunk list */
    size_t low_water;
    cio__node drainers; /* cio__waiter list */
    bool eof_sent;

    /* ---- lifetime ---- */
    int family; /* AF_INET, AF_INET6, AF_UNIX, or 0 (pipe) */
    unsigned refs;
    int close_error; /* the error that ended the connection */
    double close_timeout;
    cio__timer close_timer;
    cio__node close_waiters; /* cio_wait_closed */
    cio_loop *loop;
    bool loop_ref;                     /* holds a loop reference while closing */
    struct cio__stream_origin *origin; /* debug mode: where it was opened */
    void *tp_data;                     /* TLS state, ... */
};

/* The transport interface: what sits between the reader/writer code and
 * the fd.  Plain sockets and pipes use cio__transport_plain; TLS
 * (tls.c) encrypts on the way out and decrypts on the way in.  Raw fd I/O
 * (cio__stream_recv/send below) is shared by all of them.  Everything
 * runs on the loop thread. */
struct cio__transport {
    const char *name;
    /* Read up to len bytes of application data without waiting: > 0
     * bytes, 0 at EOF, -EAGAIN when the fd must become readable first, or
     * an error. */
    ssize_t (*read)(cio_stream *s, void *buf, size_t len);
    /* True when read would surely say -EAGAIN, so the reader can wait
     * without first setting up a buffer.  NULL: always try read. */
    bool (*idle)(const cio_stream *s);
    /* Take all of the bytes: send what the fd takes now and queue the
     * rest (cio__stream_queue).  Never waits.  0 or an error. */
    int (*write)(cio_stream *s, const struct iovec *iov, int iovcnt, size_t total);
    /* Shut down the write side once the queue is flushed; NULL when the
     * transport cannot (TLS): cio_write_eof is then -ENOTSUP. */
    int (*write_eof)(cio_stream *s);
    /* Graceful close: called once the queue is flushed; returns 0 when the
     * fd may be closed, or -EAGAIN to be called again on the next
     * readiness (TLS waits for the peer's close_notify).  NULL: nothing. */
    int (*close)(cio_stream *s);
    /* Free transport state; may be NULL. */
    void (*destroy)(cio_stream *s);
};

extern const cio__transport cio__transport_plain;

/* Raw fd I/O with readiness hints: -EAGAIN without a syscall when the fd
 * is known not to be ready.  Sockets use recv/sendmsg (MSG_NOSIGNAL),
 * pipes read/writev. */
ssize_t cio__stream_recv(cio_stream *s, void *buf, size_t len);
ssize_t cio__stream_send(cio_stream *s, const struct iovec *iov, int iovcnt);
/* Park the calling task until the fd is readable (after cio__stream_recv
 * said -EAGAIN); the stream's reader slot, so -EBUSY if another task
 * waits.  0 or an interrupt (-ECANCELED, -ETIMEDOUT).  TLS handshakes. */
int cio__stream_wait_readable(cio_stream *s);

/* Create a stream over a connected fd, already non-blocking and
 * close-on-exec (taken over even on failure).  family is the socket's, or 0 for a pipe.  opts may
 * be NULL. */
int cio__stream_new(cio_stream **out, int fd, int family, const cio_stream_opts *opts);
/* Validate stream options: -EINVAL for limit <= 0, low > high... */
int cio__stream_opts_check(const cio_stream_opts *opts);

/* Writer internals used by transports: queue wire bytes (skipping the
 * first `skip`) behind what is already queued; flush the queue now. */
int cio__stream_queue(cio_stream *s, const struct iovec *iov, int iovcnt, size_t skip);
void cio__stream_flush(cio_stream *s);
/* Send what the fd takes now, queue the rest (the plain transport's write,
 * also used by TLS for its records). */
int cio__stream_send_or_queue(cio_stream *s, const struct iovec *iov, int iovcnt, size_t total);
/* The connection is lost: record err, keep what was received, wake
 * readers, drainers and closers, close the fd. */
void cio__stream_fail(cio_stream *s, int err);
/* Close the fd now (abort or the end of a graceful close). */
void cio__stream_finish_close(cio_stream *s, int err);
void cio__stream_discard_queue(cio_stream *s);

/* Read-side helper for transports and the close path: pull everything
 * the kernel already holds into the read buffer (bytes received before
 * a reset stay readable). */
void cio__stream_salvage(cio_stream *s);

#endif
