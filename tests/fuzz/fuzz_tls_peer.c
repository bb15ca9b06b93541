/* Fuzzing of cio's TLS handshake, server and client side, with the
 * fuzzer as the peer.
 *
 * Byte 0 picks the side cio plays: a server, a server requiring a client
 * certificate, a client that verifies the server ("localhost" against a
 * CA), a client that verifies nothing.  The rest is what the peer sends:
 * it is written to the other end of a socketpair, followed by EOF, and
 * cio_start_tls runs on cio's end.  Whatever the bytes, the call must
 * return one of the errors include/cio/tls.h documents for it (or 0,
 * then reads must end with a documented error or EOF), the stream must
 * close, and nothing may leak (LeakSanitizer checks each input).
 *
 * The certificate is made once at start-up (fuzz_certs.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio.h"
#include "fuzz_loop.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_tls_peer: %s:%d: %s\n", __FILE__, __LINE__, #cond);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#include "fuzz_certs.h" /* needs CHECK */

enum side { SERVER, SERVER_MTLS, CLIENT_VERIFY, CLIENT_NO_VERIFY, NSIDES };

static cio_tls_ctx *ctxs[NSIDES];

static void make_contexts(void)
{
    struct fuzz_certs certs;
    fuzz_certs_make(&certs);
    cio_tls_server_opts so = CIO_TLS_SERVER_OPTS_INIT;
    so.certfile = certs.cert;
    so.keyfile = certs.key;
    CHECK(cio_tls_server_ctx(&ctxs[SERVER], &so) == 0);
    so.client_cafile = certs.cert;
    so.verify_client = CIO_TLS_VERIFY_REQUIRED;
    CHECK(cio_tls_server_ctx(&ctxs[SERVER_MTLS], &so) == 0);
    cio_tls_client_opts co = CIO_TLS_CLIENT_OPTS_INIT;
    co.cafile = certs.cert;
    CHECK(cio_tls_client_ctx(&ctxs[CLIENT_VERIFY], &co) == 0);
    co.cafile = NULL;
    co.no_verify = true;
    CHECK(cio_tls_client_ctx(&ctxs[CLIENT_NO_VERIFY], &co) == 0);
    fuzz_certs_remove(&certs);
}

/* The errors cio_start_tls documents for a peer that misbehaves. */
static bool handshake_error(int rc)
{
    return (rc <= CIO_ETLS && rc >= CIO_ETLSNOTLS) || rc == -ECONNRESET;
}

struct input {
    enum side side;
    const uint8_t *data;
    size_t size;
};

static intptr_t fuzz_main(void *arg)
{
    const struct input *in = arg;
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0);
    cio_stream *s;
    CHECK(cio_stream_from_fd(&s, sv[0], NULL) == 0);
    if (in->size)
        CHECK(write(sv[1], in->data, in->size) == (ssize_t)in->size);
    CHECK(shutdown(sv[1], SHUT_WR) == 0);

    cio_start_tls_opts o = CIO_START_TLS_OPTS_INIT;
    o.server_hostname = in->side >= CLIENT_VERIFY ? "localhost" : NULL;
    o.handshake_timeout = 5;
    o.shutdown_timeout = 1;
    int rc = cio_start_tls(s, ctxs[in->side], &o);
    if (rc != 0) {
        if (!handshake_error(rc)) {
            fprintf(stderr, "cio_start_tls: %s (%s)\n", cio_err_name(rc), cio_tls_error_reason(s));
            CHECK(handshake_error(rc));
        }
        CHECK(cio_is_closing(s));
        CHECK(cio_wait_closed(s) == rc);
    } else {
        /* A handshake the fuzzer completed: reading ends at EOF or with
         * a TLS error. */
        char buf[512];
        ssize_t n;
        while ((n = cio_read(s, buf, sizeof(buf))) > 0)
            ;
        CHECK(n == 0 || handshake_error((int)n));
    }
    cio_abort(s);
    cio_stream_release(s);
    close(sv[1]);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ctxs[SERVER])
        make_contexts();
    if (size < 1)
        return 0;
    struct input in = {(enum side)(data[0] % NSIDES), data + 1, size - 1};
    CHECK(fuzz_loop_run(fuzz_main, &in) == 0);
    return 0;
}
