/* Fuzzing of cio's TLS record layer after a real handshake.
 *
 * cio (server or client, TLS 1.3 or 1.2 as byte 0 says) completes a
 * handshake with an OpenSSL peer made here, over a socketpair.  Then the
 * rest of the input is a sequence of chunks the peer sends: application
 * data through SSL_write, or raw bytes written under TLS into the
 * socket (forged or broken records); at the end, close_notify or not,
 * then EOF.  cio reads until it gets 0 or an error, and:
 *  - the bytes it returned are exactly the application data sent before
 *    the first raw chunk: nothing lost, nothing invented, in order;
 *  - without raw chunks, the end is 0 after close_notify and
 *    CIO_ETLSTRUNCATED without; with them, a TLS error (CIO_ETLS*) or
 *    -ECONNRESET;
 *  - nothing leaks (LeakSanitizer checks each input). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "cio.h"
#include "fuzz_loop.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_tls_records: %s:%d: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#include "fuzz_certs.h" /* needs CHECK */

static cio_tls_ctx *cio_srv_ctx, *cio_cli_ctx;
static SSL_CTX *peer_server, *peer_client;

static void make_contexts(void)
{
    struct fuzz_certs certs;
    fuzz_certs_make(&certs);
    cio_tls_server_opts so = CIO_TLS_SERVER_OPTS_INIT;
    so.certfile = certs.cert;
    so.keyfile = certs.key;
    CHECK(cio_tls_server_ctx(&cio_srv_ctx, &so) == 0);
    cio_tls_client_opts co = CIO_TLS_CLIENT_OPTS_INIT;
    co.no_verify = true;
    CHECK(cio_tls_client_ctx(&cio_cli_ctx, &co) == 0);
    peer_server = SSL_CTX_new(TLS_server_method());
    peer_client = SSL_CTX_new(TLS_client_method());
    CHECK(peer_server && peer_client);
    CHECK(SSL_CTX_use_certificate_chain_file(peer_server, certs.cert) == 1);
    CHECK(SSL_CTX_use_PrivateKey_file(peer_server, certs.key, SSL_FILETYPE_PEM) == 1);
    SSL_CTX_set_verify(peer_client, SSL_VERIFY_NONE, NULL);
    fuzz_certs_remove(&certs);
}

struct input {
    bool cio_is_server, tls12, close_notify;
    const uint8_t *data;
    size_t size;
};

struct cio_side {
    cio_stream *s;
    cio_tls_ctx *ctx;
    int rc;
};

static intptr_t cio_handshake(void *arg)
{
    struct cio_side *c = arg;
    cio_start_tls_opts o = CIO_START_TLS_OPTS_INIT;
    o.handshake_timeout = 5;
    o.shutdown_timeout = 1;
    c->rc = cio_start_tls(c->s, c->ctx, &o);
    return 0;
}

/* Drive the peer's non-blocking handshake, yielding to cio's task. */
static void peer_handshake(SSL *ssl)
{
    for (int spins = 0; spins < 100000; spins++) {
        int r = SSL_do_handshake(ssl);
        if (r == 1)
            return;
        int e = SSL_get_error(ssl, r);
        CHECK(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE);
        CHECK(cio_yield() == 0);
    }
    CHECK(!"the peer's handshake did not finish");
}

/* Send the chunks; returns the application data sent before the first
 * raw chunk (malloc'd, *len bytes) and whether a raw chunk was sent. */
static char *peer_send(SSL *ssl, int fd, const struct input *in, size_t *len, bool *raw)
{
    char *sent = malloc(in->size + 1);
    CHECK(sent);
    *len = 0;
    *raw = false;
    for (size_t i = 0; i < in->size;) {
        uint8_t code = in->data[i++];
        size_t n = (size_t)(code >> 1) % 64 + 1;
        if (n > in->size - i)
            n = in->size - i;
        if (!n)
            break;
        if (code & 1) {
            CHECK(SSL_write(ssl, in->data + i, (int)n) == (int)n);
            if (!*raw) {
                memcpy(sent + *len, in->data + i, n);
                *len += n;
            }
        } else {
            CHECK(write(fd, in->data + i, n) == (ssize_t)n);
            *raw = true;
        }
        i += n;
    }
    if (in->close_notify)
        CHECK(SSL_shutdown(ssl) >= 0);
    CHECK(shutdown(fd, SHUT_WR) == 0);
    return sent;
}

static bool tls_error(ssize_t rc)
{
    return (rc <= CIO_ETLS && rc >= CIO_ETLSNOTLS) || rc == -ECONNRESET;
}

static intptr_t fuzz_main(void *arg)
{
    const struct input *in = arg;
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0);
    struct cio_side c = {.ctx = in->cio_is_server ? cio_srv_ctx : cio_cli_ctx};
    CHECK(cio_stream_from_fd(&c.s, sv[0], NULL) == 0);
    SSL *ssl = SSL_new(in->cio_is_server ? peer_client : peer_server);
    CHECK(ssl && SSL_set_fd(ssl, sv[1]) == 1);
    if (in->tls12)
        CHECK(SSL_set_max_proto_version(ssl, TLS1_2_VERSION) == 1);
    if (in->cio_is_server)
        SSL_set_connect_state(ssl);
    else
        SSL_set_accept_state(ssl);

    cio_task *t;
    CHECK(cio_spawn(&t, cio_handshake, &c, NULL) == 0);
    peer_handshake(ssl);
    CHECK(cio_join(t, NULL) == 0 && c.rc == 0);

    size_t len;
    bool raw;
    char *sent = peer_send(ssl, sv[1], in, &len, &raw);
    char *got = malloc(in->size + 512);
    size_t have = 0;
    ssize_t n;
    CHECK(got);
    while ((n = cio_read(c.s, got + have, 512)) > 0) {
        have += (size_t)n;
        CHECK(have <= in->size);
    }
    CHECK(have == len && memcmp(got, sent, len) == 0);
    if (raw)
        CHECK(tls_error(n));
    else
        CHECK(n == (in->close_notify ? 0 : CIO_ETLSTRUNCATED));

    free(got);
    free(sent);
    SSL_free(ssl);
    ERR_clear_error();
    cio_abort(c.s);
    cio_stream_release(c.s);
    close(sv[1]);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!cio_srv_ctx)
        make_contexts();
    if (size < 1)
        return 0;
    struct input in = {data[0] & 1, data[0] & 2, data[0] & 4, data + 1, size - 1};
    CHECK(fuzz_loop_run(fuzz_main, &in) == 0);
    return 0;
}
