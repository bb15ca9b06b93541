/* A throwaway certificate for the TLS harnesses: a self-signed EC P-256
 * certificate for CN=localhost (SAN DNS:localhost) and its key, written
 * as PEM files into a fresh temporary directory, to be loaded into
 * contexts and then removed with fuzz_certs_remove.  No key is ever
 * committed. */
#ifndef CIO_FUZZ_CERTS_H
#define CIO_FUZZ_CERTS_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#ifndef CHECK
#error "define CHECK before including fuzz_certs.h"
#endif

struct fuzz_certs {
    char dir[32], cert[64], key[64];
};

static inline void write_pem(const char *path, X509 *x, EVP_PKEY *key)
{
    FILE *f = fopen(path, "w");
    CHECK(f);
    CHECK(key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) : PEM_write_X509(f, x));
    CHECK(fclose(f) == 0);
}

/* A self-signed certificate for CN=localhost, SAN DNS:localhost. */
static inline X509 *self_signed(EVP_PKEY *key)
{
    X509 *x = X509_new();
    CHECK(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 365L * 24 * 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *san = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:localhost");
    CHECK(san && X509_add_ext(x, san, -1));
    X509_EXTENSION_free(san);
    CHECK(X509_sign(x, key, EVP_sha256()));
    return x;
}

static inline void fuzz_certs_make(struct fuzz_certs *c)
{
    snprintf(c->dir, sizeof(c->dir), "/tmp/cio-fuzz-tls-XXXXXX");
    CHECK(mkdtemp(c->dir));
    snprintf(c->cert, sizeof(c->cert), "%s/cert.pem", c->dir);
    snprintf(c->key, sizeof(c->key), "%s/key.pem", c->dir);
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    CHECK(pkey);
    X509 *x = self_signed(pkey);
    write_pem(c->cert, x, NULL);
    write_pem(c->key, NULL, pkey);
    X509_free(x);
    EVP_PKEY_free(pkey);
}

static inline void fuzz_certs_remove(const struct fuzz_certs *c)
{
    CHECK(unlink(c->cert) == 0 && unlink(c->key) == 0 && rmdir(c->dir) == 0);
}

#endif
