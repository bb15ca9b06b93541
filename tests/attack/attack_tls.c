/* TLS clients of the attack tests, on OpenSSL directly (so they can stop
 * in the middle of a handshake, which cio's own client never does). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "attack.h"

SSL_CTX *atk_tls_client_ctx(const struct atk_server *srv)
{
    char ca[64];
    snprintf(ca, sizeof(ca), "%s/cert.pem", srv->dir);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    cr_assert_not_null(ctx);
    cr_assert_eq(SSL_CTX_load_verify_locations(ctx, ca, NULL), 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;
}

int atk_tls_stalled(SSL_CTX *ctx, uint16_t port, size_t cut)
{
    /* Produce the ClientHello into a memory BIO, send it, go silent. */
    SSL *ssl = SSL_new(ctx);
    cr_assert_not_null(ssl);
    BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
    cr_assert(rbio && wbio);
    SSL_set_bio(ssl, rbio, wbio);
    SSL_set_connect_state(ssl);
    cr_assert_eq(SSL_get_error(ssl, SSL_do_handshake(ssl)), SSL_ERROR_WANT_READ);
    char *hello;
    long len = BIO_get_mem_data(wbio, &hello);
    cr_assert_gt(len, 0);
    size_t n = cut && cut < (size_t)len ? cut : (size_t)len;
    int fd = atk_connect(port);
    atk_send_all(fd, hello, n);
    SSL_free(ssl);
    return fd;
}

SSL *atk_tls_connect(SSL_CTX *ctx, uint16_t port)
{
    SSL *ssl = SSL_new(ctx);
    cr_assert_not_null(ssl);
    SSL_set_fd(ssl, atk_connect(port));
    SSL_set1_host(ssl, "localhost");
    int rc = SSL_connect(ssl);
    cr_assert_eq(rc, 1, "SSL_connect: %d (%s)", SSL_get_error(ssl, rc),
                 ERR_reason_error_string(ERR_peek_last_error()));
    return ssl;
}

void atk_tls_echo(SSL *ssl, const char *line)
{
    size_t n = strlen(line), got = 0;
    char buf[256];
    cr_assert_lt(n, sizeof(buf));
    cr_assert_eq(SSL_write(ssl, line, (int)n), (int)n);
    while (got < n) {
        int k = SSL_read(ssl, buf + got, (int)(n - got));
        cr_assert_gt(k, 0, "SSL_read: %d", SSL_get_error(ssl, k));
        got += (size_t)k;
    }
    cr_assert_eq(memcmp(buf, line, n), 0);
}

void atk_tls_close(SSL *ssl)
{
    int fd = SSL_get_fd(ssl);
    SSL_free(ssl);
    close(fd);
}
