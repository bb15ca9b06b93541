/* cio TLS: contexts, TLS streams, start_tls and the TLS extra info.
 *
 * A TLS stream is an ordinary cio_stream: every reader and writer call
 * works on it unchanged, and it is opened the asyncio way, by passing a
 * context in cio_connect_opts.tls / cio_server_opts.tls, or by upgrading
 * a live stream with cio_start_tls (STARTTLS protocols).  OpenSSL 3 does
 * the protocol over memory BIOs; OpenSSL types never appear here (the SSL
 * object is handed out as void *).
 *
 * Differences from a plain stream (as in asyncio):
 *  - cio_can_write_eof is false and cio_write_eof is -ENOTSUP.
 *  - Write water marks default to 512 KiB / 128 KiB.
 *  - cio_close sends close_notify and waits for the peer's, at most the
 *    shutdown timeout (default 30 s); then the close ends with -ETIMEDOUT
 *    (see cio_wait_closed).  It never hangs.
 *  - A peer that closes the TCP connection without close_notify makes a
 *    read fail with CIO_ETLSTRUNCATED (an attacker could have cut the
 *    data short); a clean close_notify reads as EOF (0).
 *
 * Errors (include/cio/errno.h): CIO_ETLSCERT (certificate verification
 * failed, either way round: our check of the peer, or the peer's alert
 * about ours), CIO_ETLSHOSTNAME (the certificate is valid but not for
 * that name), CIO_ETLSHANDSHAKE_TIMEOUT, CIO_ETLSNOTLS (the peer spoke
 * plaintext), CIO_ETLSTRUNCATED, CIO_ETLS (any other protocol error).
 * cio_tls_error_reason() gives OpenSSL's reason for the latest one.
 *
 * Contexts are reference-counted, immutable once made, and may be shared
 * by any number of streams, servers and threads. */
#ifndef CIO_TLS_H
#define CIO_TLS_H

#ifndef CIO_H
#error "include <cio.h>, not <cio/tls.h>"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Protocol versions for min_version / max_version (the wire values). */
#define CIO_TLS_VERSION_1_2 0x0303
#define CIO_TLS_VERSION_1_3 0x0304

#define CIO_TLS_DEFAULT_HIGH_WATER (512u * 1024u) /* low water: high / 4 */

/* ======================================================================
 * Contexts (asyncio's ssl.SSLContext)
 * ====================================================================== */

/* Client settings.  All-zero (or CIO_TLS_CLIENT_OPTS_INIT, or NULL) is
 * asyncio's ssl=True: verify the server against the system CA store and
 * check its name, TLS 1.2 or newer. */
typedef struct cio_tls_client_opts {
    const char *cafile;     /* PEM bundle of trusted CAs; with capath, replaces the system store */
    const char *capath;     /* directory of hashed CA files (c_rehash) */
    const char *certfile;   /* client certificate chain, PEM, leaf first (mutual TLS) */
    const char *keyfile;    /* its private key, PEM; NULL: the key is in certfile */
    const char *alpn;       /* protocols to offer, comma-separated: "h2,http/1.1" */
    int min_version;        /* 0: CIO_TLS_VERSION_1_2 */
    int max_version;        /* 0: the newest supported */
    bool no_check_hostname; /* verify the chain but not the name (check_hostname=False) */
    bool no_verify;         /* DANGEROUS: accept any certificate (CERT_NONE); implies the above */
} cio_tls_client_opts;
/* clang-format off */
#define CIO_TLS_CLIENT_OPTS_INIT {0}
/* clang-format on */

/* Client certificate policy of a server. */
enum cio_tls_verify_client {
    CIO_TLS_VERIFY_NONE = 0, /* do not ask for one (default) */
    CIO_TLS_VERIFY_OPTIONAL, /* ask; verify it if the client sends one */
    CIO_TLS_VERIFY_REQUIRED, /* ask; fail the handshake without a valid one */
};

/* SNI hook of a server: called during each handshake with the name the
 * client asked for (NULL when it sent none).  Return 0 to go on, setting
 * *use to another server context to serve that name with its certificate
 * (leave it NULL to keep this one); the other context must stay alive
 * until cio_tls_ctx_free on it, connections retain it.  Return a negative
 * value to refuse the handshake (the client gets an unrecognized_name
 * alert).  Runs inside the handshake on the connection's loop thread, so
 * concurrently on several threads if loops there share the context; it
 * must not block. */
typedef int (*cio_tls_sni_fn)(void *arg, const char *server_name, cio_tls_ctx **use);

typedef struct cio_tls_server_opts {
    const char *certfile;      /* certificate chain, PEM, leaf first (required) */
    const char *keyfile;       /* private key, PEM; NULL: the key is in certfile */
    const char *client_cafile; /* CAs that client certificates must chain to */
    const char *client_capath;
    enum cio_tls_verify_client verify_client; /* != NONE needs client_cafile/capath */
    const char *alpn;   /* protocols we speak, preferred first: "h2,http/1.1" */
    int min_version;    /* 0: CIO_TLS_VERSION_1_2 */
    int max_version;    /* 0: the newest supported */
    cio_tls_sni_fn sni; /* optional */
    void *sni_arg;
    /* TLS 1.3 session tickets sent after each full handshake (Python's
     * SSLContext.num_tickets).  0: one, as Go sends (OpenSSL's own default
     * is two; each costs the server about 6% of a handshake);
     * CIO_TLS_NO_TICKETS: none, so clients cannot resume; n > 0: n. */
    int num_tickets;
} cio_tls_server_opts;
#define CIO_TLS_NO_TICKETS (-1)
#define CIO_TLS_SERVER_OPTS_INIT                                                                   \
    {                                                                                              \
        NULL, NULL, NULL, NULL, CIO_TLS_VERIFY_NONE, NULL, 0, 0, NULL, NULL, 0                     \
    }

/* Make a client context (asyncio ssl.create_default_context()); opts may
 * be NULL.  Returns 0 with *out set, -ENOENT/-EACCES for unreadable files,
 * -EINVAL for bad options (unknown version, min > max, keyfile without
 * certfile, an ALPN name empty or over 255 bytes), CIO_ETLS for files
 * OpenSSL rejects (bad PEM, key not matching the certificate; see
 * cio_tls_error_reason(NULL)), -ENOMEM. */
CIO_EXTERN int cio_tls_client_ctx(cio_tls_ctx **out, const cio_tls_client_opts *opts);

/* Make a server context from a certificate chain and key.  Same errors;
 * -EINVAL without certfile, for verify_client without client CAs, or for
 * num_tickets below CIO_TLS_NO_TICKETS. */
CIO_EXTERN int cio_tls_server_ctx(cio_tls_ctx **out, const cio_tls_server_opts *opts);

/* cio_tls_ctx_retain adds a reference, cio_tls_ctx_free drops one (NULL
 * is ignored); the context goes with the last.  Every TLS stream and
 * every server holds a reference of its own, so the caller may free its
 * reference as soon as it has passed the context on. */
CIO_EXTERN void cio_tls_ctx_retain(cio_tls_ctx *ctx);
CIO_EXTERN void cio_tls_ctx_free(cio_tls_ctx *ctx);
/* cio_tls_ctx_is_server: made by cio_tls_server_ctx (true) or
 * cio_tls_client_ctx (false). */
CIO_EXTERN bool cio_tls_ctx_is_server(const cio_tls_ctx *ctx);
/* The OpenSSL SSL_CTX *, for settings not covered above (ciphers, key
 * logging, session cache...).  Change it before first use only. */
CIO_EXTERN void *cio_tls_ctx_native(cio_tls_ctx *ctx);

/* ======================================================================
 * start_tls (asyncio loop.start_tls / StreamWriter.start_tls)
 * ====================================================================== */

typedef struct cio_start_tls_opts {
    const char *server_hostname; /* client side: SNI and the name to verify */
    double handshake_timeout;    /* seconds (0: 60); < 0 is -EINVAL */
    double shutdown_timeout;     /* seconds (0: 30); < 0 is -EINVAL */
} cio_start_tls_opts;
#define CIO_START_TLS_OPTS_INIT                                                                    \
    {                                                                                              \
        0                                                                                          \
    }

/* Upgrade a live plain stream to TLS in place and run the handshake in
 * the calling task: the client side with a client context, the server
 * side with a server context.  opts may be NULL (defaults, no name).
 *
 * It first drains the write queue (cio_drain).  Bytes the reader has
 * already buffered but nobody has read are the peer's first TLS bytes (a
 * STARTTLS client typically sends its ClientHello right behind the
 * command): they are fed to TLS, not lost.  So read the plaintext
 * protocol exactly (line by line) up to the upgrade point.
 *
 * A client context that checks host names needs server_hostname (-EINVAL
 * without).  Write water marks still at the plain defaults move to the
 * TLS defaults.  Returns 0, -EINVAL (already TLS, closing, write_eof
 * done, bad timeouts), -EBUSY (another task is reading), the TLS errors
 * above, CIO_ETLSHANDSHAKE_TIMEOUT, -ECONNRESET (the peer closed during
 * the handshake), -ECONNABORTED (the stream was closed meanwhile),
 * -ENOMEM, -ECANCELED/-ETIMEDOUT of the caller, -EPERM outside a task.
 * -EINVAL and -EBUSY leave the stream as it was; after any other failure
 * it is closed (the error is its cio_wait_closed result), since the peer
 * may be waiting halfway through a handshake.  The caller still releases it.  Other tasks must
 * leave the stream alone meanwhile: their writes fail with -EBUSY, and a
 * read parked on it makes the handshake fail with -EBUSY. */
CIO_EXTERN int cio_start_tls(cio_stream *s, cio_tls_ctx *ctx, const cio_start_tls_opts *opts);

/* ======================================================================
 * Extra info (get_extra_info('ssl_object'), 'peercert', 'cipher', ...)
 *
 * On a stream that is not TLS, pointers are NULL and integer getters
 * return -ENOTSUP.  Strings stay valid while the stream is alive.
 * ====================================================================== */

/* cio_stream_is_tls: true once the stream is TLS (from the start of its
 * handshake). */
CIO_EXTERN bool cio_stream_is_tls(const cio_stream *s);
/* The OpenSSL SSL * ('ssl_object'), or NULL. */
CIO_EXTERN void *cio_stream_ssl(const cio_stream *s);
/* cio_stream_tls_cipher: the negotiated cipher suite
 * ("TLS_AES_256_GCM_SHA384"); NULL before the handshake is done. */
CIO_EXTERN const char *cio_stream_tls_cipher(const cio_stream *s);
/* cio_stream_tls_version: the protocol version ("TLSv1.3"). */
CIO_EXTERN const char *cio_stream_tls_version(const cio_stream *s);
/* cio_stream_tls_alpn: the ALPN protocol agreed, NULL if none. */
CIO_EXTERN const char *cio_stream_tls_alpn(const cio_stream *s);
/* cio_stream_tls_server_name: the SNI name asked for (on either side),
 * NULL if none (e.g. when connecting to an IP address). */
CIO_EXTERN const char *cio_stream_tls_server_name(const cio_stream *s);

/* The peer certificate in DER ('peercert', binary_form=True): *der points
 * into the stream (valid while it lives).  -ENOENT if the peer sent none
 * (a client without a certificate). */
CIO_EXTERN int cio_stream_peer_cert_der(const cio_stream *s, const unsigned char **der,
                                        size_t *len);
/* cio_stream_peer_subject / cio_stream_peer_issuer: the subject or issuer
 * of the peer certificate as an RFC 2253 string ("CN=localhost,O=cio
 * test"), NUL-terminated in buf; returns its length (without the NUL),
 * -ENOENT without a certificate, CIO_EBUFSIZE if it does not fit in cap
 * (buf NULL and cap 0 just return the length). */
CIO_EXTERN ssize_t cio_stream_peer_subject(const cio_stream *s, char *buf, size_t cap);
CIO_EXTERN ssize_t cio_stream_peer_issuer(const cio_stream *s, char *buf, size_t cap);
/* The i-th subjectAltName of the peer certificate as "DNS:localhost",
 * "IP:127.0.0.1", "IP:::1", "email:a@b", "URI:...": its length, or
 * -ENOENT when i is past the last (or there is no certificate),
 * CIO_EBUFSIZE / buf NULL as above. */
CIO_EXTERN ssize_t cio_stream_peer_san(const cio_stream *s, size_t i, char *buf, size_t cap);

/* OpenSSL's reason for the latest TLS failure: of stream s, or with s
 * NULL of the calling thread (for failures where no stream is returned:
 * cio_open_connection, cio_tls_*_ctx).  For CIO_ETLSCERT it is the
 * verification error ("certificate verify failed: certificate has
 * expired"), for CIO_ETLSHOSTNAME the mismatch, for alerts from the peer
 * the alert.  "" when there was none.  The thread's string is
 * overwritten by the next failure. */
CIO_EXTERN const char *cio_tls_error_reason(const cio_stream *s);

#ifdef __cplusplus
}
#endif

#endif
