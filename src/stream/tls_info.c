/* TLS extra info (asyncio get_extra_info: 'ssl_object', 'peercert',
 * 'cipher', 'version', 'alpn'...): read-only views of the SSL object. */
#include <arpa/inet.h>
#include <stdio.h>

#include <openssl/x509v3.h>

#include "stream/stream_tls.h"

bool cio_stream_is_tls(const cio_stream *s)
{
    return cio__stream_tls(s) != NULL;
}

void *cio_stream_ssl(const cio_stream *s)
{
    cio__tls *t = cio__stream_tls(s);
    return t ? t->ssl : NULL;
}

static cio__tls *established(const cio_stream *s)
{
    cio__tls *t = cio__stream_tls(s);
    return t && t->established ? t : NULL;
}

const char *cio_stream_tls_cipher(const cio_stream *s)
{
    cio__tls *t = established(s);
    return t ? SSL_get_cipher_name(t->ssl) : NULL;
}

const char *cio_stream_tls_version(const cio_stream *s)
{
    cio__tls *t = established(s);
    return t ? SSL_get_version(t->ssl) : NULL;
}

const char *cio_stream_tls_alpn(const cio_stream *s)
{
    cio__tls *t = established(s);
    return t && t->alpn[0] ? t->alpn : NULL;
}

const char *cio_stream_tls_server_name(const cio_stream *s)
{
    cio__tls *t = cio__stream_tls(s);
    return t ? SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name) : NULL;
}

/* The peer certificate, or NULL with *rc set. */
static X509 *peer_cert(const cio_stream *s, cio__tls **tp, int *rc)
{
    cio__tls *t = cio__stream_tls(s);
    *rc = -ENOTSUP;
    if (!t)
        return NULL;
    *tp = t;
    X509 *x = SSL_get0_peer_certificate(t->ssl);
    *rc = x ? 0 : -ENOENT;
    return x;
}

int cio_stream_peer_cert_der(const cio_stream *s, const unsigned char **der, size_t *len)
{
    cio__tls *t;
    int rc;
    X509 *x = peer_cert(s, &t, &rc);
    if (!x)
        return rc;
    if (!t->der) {
        /* Encoded once, on first use, and kept with the stream. */
        int n = i2d_X509(x, &t->der);
        if (n <= 0) {
            t->der = NULL;
            return -ENOMEM;
        }
        t->der_len = n;
    }
    *der = t->der;
    *len = (size_t)t->der_len;
    return 0;
}

/* Copy a string of length n out, snprintf-like: buf NULL and cap 0 ask
 * for the length. */
static ssize_t copy_out(const char *str, size_t n, char *buf, size_t cap)
{
    if (!buf && !cap)
        return (ssize_t)n;
    if (n >= cap)
        return CIO_EBUFSIZE;
    memcpy(buf, str, n);
    buf[n] = '\0';
    return (ssize_t)n;
}

static ssize_t name_out(const X509_NAME *name, char *buf, size_t cap)
{
    BIO *mem = BIO_new(BIO_s_mem());
    if (!mem)
        return -ENOMEM;
    ssize_t rc = -ENOMEM;
    char *data;
    if (X509_NAME_print_ex(mem, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        long n = BIO_get_mem_data(mem, &data);
        rc = copy_out(data, (size_t)n, buf, cap);
    }
    BIO_free(mem);
    return rc;
}

ssize_t cio_stream_peer_subject(const cio_stream *s, char *buf, size_t cap)
{
    cio__tls *t;
    int rc;
    X509 *x = peer_cert(s, &t, &rc);
    return x ? name_out(X509_get_subject_name(x), buf, cap) : rc;
}

ssize_t cio_stream_peer_issuer(const cio_stream *s, char *buf, size_t cap)
{
    cio__tls *t;
    int rc;
    X509 *x = peer_cert(s, &t, &rc);
    return x ? name_out(X509_get_issuer_name(x), buf, cap) : rc;
}

static ssize_t san_out(const GENERAL_NAME *gn, char *buf, size_t cap)
{
    char tmp[512];
    const char *kind = NULL;
    const ASN1_STRING *str = NULL;
    switch (gn->type) {
    case GEN_DNS:
        kind = "DNS", str = gn->d.dNSName;
        break;
    case GEN_EMAIL:
        kind = "email", str = gn->d.rfc822Name;
        break;
    case GEN_URI:
        kind = "URI", str = gn->d.uniformResourceIdentifier;
        break;
    case GEN_IPADD: {
        char ip[INET6_ADDRSTRLEN];
        int len = ASN1_STRING_length(gn->d.iPAddress);
        int af = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
        if (!af || !inet_ntop(af, ASN1_STRING_get0_data(gn->d.iPAddress), ip, sizeof(ip)))
            snprintf(ip, sizeof(ip), "<invalid>");
        int n = snprintf(tmp, sizeof(tmp), "IP:%s", ip);
        return copy_out(tmp, (size_t)n, buf, cap);
    }
    default: {
        int n = snprintf(tmp, sizeof(tmp), "other:%d", gn->type);
        return copy_out(tmp, (size_t)n, buf, cap);
    }
    }
    int len = ASN1_STRING_length(str);
    int n =
        snprintf(tmp, sizeof(tmp), "%s:%.*s", kind, len, (const char *)ASN1_STRING_get0_data(str));
    if (n >= (int)sizeof(tmp))
        return CIO_EBUFSIZE;
    return copy_out(tmp, (size_t)n, buf, cap);
}

ssize_t cio_stream_peer_san(const cio_stream *s, size_t i, char *buf, size_t cap)
{
    cio__tls *t;
    int rc;
    X509 *x = peer_cert(s, &t, &rc);
    if (!x)
        return rc;
    GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    if (!names)
        return -ENOENT;
    ssize_t n = -ENOENT;
    if (i < (size_t)sk_GENERAL_NAME_num(names))
        n = san_out(sk_GENERAL_NAME_value(names, (int)i), buf, cap);
    GENERAL_NAMES_free(names);
    return n;
}
