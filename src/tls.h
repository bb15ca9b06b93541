/* TLS internals shared by tls_ctx.c (contexts), tls.c (the transport:
 * handshake, read, write, close) and tls_info.c (extra info), and the
 * hooks the connection and server code call.
 *
 * The transport runs OpenSSL over a BIO pair: SSL reads and writes one
 * end in memory, and tls.c moves ciphertext between the other end and
 * the fd with the stream's own raw I/O (cio__stream_recv, the write
 * queue).  Nothing in OpenSSL ever touches the fd, so the same code will
 * serve a completion-based backend. */
#ifndef CIO_TLS_INTERNAL_H
#define CIO_TLS_INTERNAL_H

#include <openssl/ssl.h>

#include "stream.h"

struct cio_tls_ctx {
    SSL_CTX *ssl_ctx;
    _Atomic unsigned refs; /* contexts may be shared by loops on other threads */
    bool server;
    bool check_hostname; /* client: verify the name as well as the chain */
    unsigned char *alpn; /* server: ALPN wire list, our preference order */
    size_t alpn_len;
    cio_tls_sni_fn sni;
    void *sni_arg;
};

/* Per-stream TLS state (s->tp_data). */
typedef struct cio__tls {
    cio_stream *s;
    SSL *ssl;
    BIO *net;             /* our end of the pair: ciphertext in and out */
    cio_tls_ctx *ctx;     /* reference */
    cio_tls_ctx *sni_ctx; /* reference to the context the SNI hook chose */
    cio__buf pre;         /* peer bytes read before the upgrade, not yet in the BIO */
    int rd_error;         /* a raw read error seen after returning data */
    bool tcp_eof;         /* the fd reported EOF */
    bool established;     /* handshake done */
    bool shutdown_sent;
    double shutdown_timeout;
    cio__timer shutdown_timer;
    unsigned char *der; /* peer certificate, DER, cached by tls_info.c */
    int der_len;
    char alpn[256];   /* NUL-terminated copy of the ALPN result */
    char reason[256]; /* OpenSSL's reason for this stream's last failure */
} cio__tls;

/* tls_ctx.c */
void cio__tls_set_reason(cio__tls *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The thread's latest reason (cio_tls_error_reason(NULL)). */
const char *cio__tls_thread_reason(void);
/* Map the OpenSSL error queue to -errno / CIO_ETLS and record the reason
 * for the thread (t may be NULL).  Clears the queue. */
int cio__tls_ctx_error(void);

/* The state of a TLS stream, or NULL. */
cio__tls *cio__tls_of(const cio_stream *s);

/* Hooks for cio_open_connection / cio_open_unix_connection (declared in
 * net.h too) and the server's connection task: make the fresh plain
 * stream TLS and run the handshake in the calling task.  The client's
 * server_hostname defaults to host (NULL for Unix sockets: then
 * opts->server_hostname is required when the context checks names,
 * -EINVAL otherwise).  On failure the stream is closed with the error and
 * the caller still owns (and releases) its reference. */
int cio__tls_client_upgrade(cio_stream *s, const cio_connect_opts *opts, const char *host);
int cio__tls_server_upgrade(cio_stream *s, const cio_server_opts *opts);

#endif
