/* TLS streams: the stream layer's side of TLS (stream_tls.c).  The
 * stream stacks the TLS transport (tls.h) on its endpoint and runs the
 * handshake in the calling task; open_connection, the server and
 * start_tls go through here. */
#ifndef CIO_STREAM_TLS_H
#define CIO_STREAM_TLS_H

#include "stream.h"
#include "tls.h"

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

#endif
