/* The stream object: asyncio's StreamReader and StreamWriter over a
 * transport stack (transport.h).
 *
 * A stream is a reader (an owned, growable read buffer filled on demand)
 * and a writer (a queue of outgoing chunks flushed by the loop when the
 * endpoint is writable), with the close state machine, each in exactly
 * one place.  The reader and writer code (stream_read.c, stream_write.c)
 * only calls the top transport's operations, so TLS and pipes are
 * further transports with no special cases there.
 *
 * Reads are pulled: a read call that needs data asks the transport for
 * more (up to 256 KiB at a time), so the buffer never holds more than a
 * read needs plus one chunk, and asyncio's pause-above-2x-limit rule holds
 * by construction.  Writes are pushed: cio_write hands the transport what
 * it takes at once and queues the rest; the endpoint's writable events
 * flush the queue in loop context, which is what lets close() complete in
 * the background. */
#ifndef CIO_STREAM_INTERNAL_H
#define CIO_STREAM_INTERNAL_H

#include <sys/socket.h>

#include "core/internal.h"
#include "net/transport.h"
#include "sys/buf.h"

enum { CIO__READ_CHUNK = 256 * 1024 };

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
    cio__endpoint ep;   /* the fd at the bottom of the transport stack */
    cio__transport *tp; /* the top of the stack: &ep.tp, or TLS over it */
    cio_task *reader;   /* task waiting for data (one at a time) */
    bool eof;           /* EOF received from the transport */
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
    bool handshaking;    /* a task runs the TLS handshake: writes are -EBUSY */

    /* ---- reader ---- */
    size_t limit;
    size_t overrun_consumed; /* CIO_ELIMIT detail */
    size_t needed;           /* CIO_EBUFSIZE detail */

    /* ---- writer ---- */
    cio__node wqueue; /* cio__chunk list */
    size_t low_water;
    size_t default_high_water; /* the transport's: 64 KiB, 512 KiB for TLS */
    cio__node drainers;        /* cio__waiter list */
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
};

/* Park the calling task until the endpoint is readable (after a read
 * said -EAGAIN); the stream's reader slot, so -EBUSY if another task
 * waits.  0 or an interrupt (-ECANCELED, -ETIMEDOUT). */
int cio__stream_wait_readable(cio_stream *s);

/* Create a stream over a connected fd, already non-blocking and
 * close-on-exec (taken over even on failure).  family is the socket's, or 0 for a pipe.  opts may
 * be NULL. */
int cio__stream_new(cio_stream **out, int fd, int family, const cio_stream_opts *opts);
/* Validate stream options: -EINVAL for limit <= 0, low > high... */
int cio__stream_opts_check(const cio_stream_opts *opts);

/* Hand what the transport takes now to it, queue the rest (all or
 * nothing: -ENOMEM queues nothing).  0 or an error. */
int cio__stream_send_or_queue(cio_stream *s, const struct iovec *iov, int iovcnt, size_t total);
/* Write the queue (and what the transport holds) while the endpoint
 * takes it; finish a write_eof or a close once everything is out. */
void cio__stream_flush(cio_stream *s);
/* Bytes the transport holds below the queue (TLS records not yet sent). */
static inline size_t cio__stream_tp_pending(const cio_stream *s)
{
    return s->tp->ops->pending ? s->tp->ops->pending(s->tp) : 0;
}
/* After a transport call: bytes the transport now holds (TLS records the
 * socket did not take) go out on writable events, which a
 * level-triggered backend only reports when asked. */
static inline void cio__stream_want_held_out(cio_stream *s)
{
    if (cio__stream_tp_pending(s))
        s->ep.io.want_write = true;
}
/* What the water marks compare: the queue and what the transport holds
 * (asyncio's get_write_buffer_size). */
static inline size_t cio__stream_backlog(const cio_stream *s)
{
    return s->wqueued + cio__stream_tp_pending(s);
}
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

/* Debug mode (stream_debug.c): record where s is opened (best effort:
 * without memory it simply goes untracked); forget it when s is freed. */
void cio__stream_debug_opened(cio_loop *loop, cio_stream *s);
void cio__stream_debug_freed(cio_stream *s);

#endif
