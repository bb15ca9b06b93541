/* TLS streams: the stream layer's side of TLS (stream_tls.c).  The
 * stream stacks the TLS transport (tls.h) on its endpoint and runs the
 * handshake in the calling task; open_connection, the server and
 * start_tls go through here. */
#ifndef CIO_STREAM_TLS_H
#define CIO_STREAM_TLS_H

#include "stream/stream.h"

#ifndef CIO_NO_TLS
#include "tls/tls.h"

/* The TLS transport of s, or NULL for a plain stream. */
cio__tls *cio__stream_tls(const cio_stream *s);

/* Make a fresh plain stream TLS and run the handshake in the calling
 * task: as a client for cio_open_connection / cio_open_unix_connection
 * (server_hostname defaulting to host, NULL for Unix sockets: then
 * opts->server_hostname is required when the context checks names,
 * -EINVAL otherwise), as a server for a server's connection task.  On
 * failure the stream is closed with the error and the caller still owns
 * (and releases) its reference. */
int cio__tls_client_upgrade(cio_stream *s, const cio_connect_opts *opts, const char *host);
int cio__tls_server_upgrade(cio_stream *s, const cio_server_opts *opts);
/* OpenSSL's reason for the stream's last TLS failure ("" if none). */
static inline const char *cio__stream_tls_reason(const cio_stream *s)
{
    return cio_tls_error_reason(s);
}
/* A server holds its context (NULL: none) while it lives. */
static inline void cio__tls_ctx_hold(cio_tls_ctx *ctx)
{
    if (ctx)
        cio_tls_ctx_retain(ctx);
}
static inline void cio__tls_ctx_drop(cio_tls_ctx *ctx)
{
    if (ctx)
        cio_tls_ctx_free(ctx);
}
#else
/* Built without TLS (CIO_NO_TLS): no TLS context can exist, and the
 * option checks refuse a non-NULL one with -ENOTSUP before these run. */
static inline int cio__tls_client_upgrade(cio_stream *s, const cio_connect_opts *opts,
                                          const char *host)
{
    (void)s, (void)opts, (void)host;
    return -ENOTSUP;
}
static inline int cio__tls_server_upgrade(cio_stream *s, const cio_server_opts *opts)
{
    (void)s, (void)opts;
    return -ENOTSUP;
}
static inline const char *cio__stream_tls_reason(const cio_stream *s)
{
    (void)s;
    return "";
}
static inline void cio__tls_ctx_hold(cio_tls_ctx *ctx)
{
    (void)ctx;
}
static inline void cio__tls_ctx_drop(cio_tls_ctx *ctx)
{
    (void)ctx;
}
#endif

#endif
