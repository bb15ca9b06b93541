/* TLS internals: contexts (tls_ctx.c) and the TLS transport (tls.c), a
 * transport over a lower transport (transport.h), used by the stream
 * layer (stream_tls.c: start_tls, the handshake loop, extra info).
 *
 * The transport runs OpenSSL over a BIO pair: SSL reads and writes one
 * end in memory, and tls.c moves ciphertext between the other end and
 * the lower transport with its read and write operations.  Nothing in
 * OpenSSL ever touches the fd, so the same code serves any backend. */
#ifndef CIO_TLS_INTERNAL_H
#define CIO_TLS_INTERNAL_H

#include <openssl/ssl.h>

#include "net/transport.h"
#include "sys/buf.h"

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

/* One TLS transport. */
typedef struct cio__tls {
    cio__transport tp; /* ops: the TLS operations; tp.ep: the lower's endpoint */
    cio__transport *lower;
    SSL *ssl;
    BIO *net;             /* our end of the pair: ciphertext in and out */
    cio_tls_ctx *ctx;     /* reference */
    cio_tls_ctx *sni_ctx; /* reference to the context the SNI hook chose */
    cio__buf pre;         /* peer bytes read before the upgrade, not yet in the BIO */
    /* A record SSL encrypted but could not hand to the full BIO: OpenSSL
     * wants the same plaintext again, so it is kept here (<= 16 KiB). */
    char *retry;
    size_t retry_len;
    int rd_error;     /* a raw read error seen after returning data */
    bool tcp_eof;     /* the lower transport reported EOF */
    bool established; /* handshake done */
    bool shutdown_sent;
    bool shutdown_expired; /* no close_notify from the peer in time */
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

/* tls.c: the transport. */

/* Wrap lower in a TLS transport (no handshake yet).  pre: bytes already
 * read from lower that are the start of the peer's TLS; lower_eof: lower
 * has reported EOF.  A client verifies and sends as SNI `name` (see
 * set_peer_name).  0, -EINVAL (bad name; nothing changed), -ENOMEM. */
int cio__tls_wrap(cio__transport *lower, cio_tls_ctx *ctx, const char *name,
                  double shutdown_timeout, const void *pre, size_t prelen, bool lower_eof,
                  cio__tls **out);
/* Drive the handshake: 0 once established, -EAGAIN to be called again
 * when the endpoint is readable, or the error (reason recorded). */
int cio__tls_handshake(cio__tls *t);
/* The TLS transport under tp, or NULL if tp is no TLS transport. */
cio__tls *cio__tls_from(const cio__transport *tp);

#endif
