/* Fuzzing of examples/http_parse.h, the HTTP/1.x head parser and URL
 * splitter the examples use on bytes from the network and the command
 * line.
 *
 * The input is given, in an allocation of exactly its size (so ASan
 * catches any read past it), to http_parse_request as a request head, to
 * http_parse_status line by line, and NUL-terminated to http_parse_url.
 * Besides the sanitizers, every success is checked against what the
 * header promises: a request accepted is well formed (token method, a
 * target without spaces or controls, HTTP/1.x, Host for 1.1, no
 * Transfer-Encoding), a status is 100..999, a URL has a host, a port
 * and a clean path starting with '/'. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_http_parse: %s:%d: %s\n", __FILE__, __LINE__, #cond);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static bool inside(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && n <= len && (size_t)(p - buf) <= len - n;
}

static void check_request(const char *buf, size_t len)
{
    struct http_request rq;
    int rc = http_parse_request(buf, len, &rq);
    CHECK(rc == 0 || rc == 400 || rc == 501);
    if (rc != 0)
        return;
    CHECK(inside(rq.method, rq.method_len, buf, len) && rq.method_len > 0);
    CHECK(http_token_len(rq.method, rq.method_len) == rq.method_len);
    CHECK(inside(rq.target, rq.target_len, buf, len) && rq.target_len > 0);
    for (size_t i = 0; i < rq.target_len; i++)
        CHECK((unsigned char)rq.target[i] > ' ' && (unsigned char)rq.target[i] < 0x7f);
    CHECK(rq.minor >= 0 && rq.minor <= 9);
    CHECK(rq.minor == 0 || rq.host);
    CHECK(!rq.transfer_encoding);
    CHECK(rq.content_length >= -1 && rq.content_length < 1000000000000000000LL);
    CHECK(memmem(buf, len, "\r\n\r\n", 4) != NULL);
}

static void check_status_lines(const char *buf, size_t len)
{
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((lf ? lf : end) - p);
        int code = http_parse_status(p, n);
        CHECK(code == -1 || (code >= 100 && code <= 999));
        if (code > 0)
            CHECK(n >= 12 && memcmp(p, "HTTP/1.", 7) == 0);
        p += n + 1;
    }
}

static void check_url(const char *buf, size_t len)
{
    char *s = malloc(len + 1);
    CHECK(s);
    memcpy(s, buf, len);
    s[len] = '\0';
    struct http_url u;
    const char *err = http_parse_url(s, &u);
    if (!err) {
        size_t hlen = strnlen(u.host, sizeof(u.host));
        CHECK(hlen > 0 && hlen < sizeof(u.host));
        CHECK(u.port >= 1);
        CHECK(u.path[0] == '/' && strlen(u.path) < sizeof(u.path));
        for (const char *q = u.path; *q; q++)
            CHECK((unsigned char)*q > ' ' && (unsigned char)*q < 0x7f);
    } else {
        CHECK(strlen(err) > 0);
    }
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    CHECK(buf);
    memcpy(buf, data, size);
    check_request(buf, size);
    check_status_lines(buf, size);
    check_url(buf, size);
    free(buf);
    return 0;
}
