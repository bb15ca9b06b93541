/* A tiny, strict HTTP/1.x head parser and URL splitter shared by
 * hello_http (requests), http_headers and fetch_many (responses, URLs),
 * and the client half those two share: send a HEAD request, read the
 * response head from a cio stream, name what went wrong.
 *
 * Strict on purpose: an example server should show where the line is.
 * Request line "METHOD SP TARGET SP HTTP/1.x CRLF", header lines
 * "name: value CRLF" with a token name, no obs-fold, no control bytes,
 * Content-Length all digits (repeats must agree).  Everything else is a
 * 400.  The functions are static inline so each example takes only what
 * it uses without unused-function warnings. */
#ifndef CIO_EXAMPLES_HTTP_PARSE_H
#define CIO_EXAMPLES_HTTP_PARSE_H

#include <cio.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* RFC 9110 tchar: the characters of a method or a header name. */
static inline bool http_is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static inline size_t http_token_len(const char *p, size_t len)
{
    size_t i = 0;
    while (i < len && http_is_tchar((unsigned char)p[i]))
        i++;
    return i;
}

/* Field values may hold visible bytes, obs-text, SP and HTAB; a bare CR,
 * LF, NUL or other control byte is how request smuggling starts. */
static inline bool http_is_value(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

/* "HTTP/1.0" or "HTTP/1.1" (any 1.x): the minor digit, or -1. */
static inline int http_version_minor(const char *p, size_t len)
{
    if (len != 8 || memcmp(p, "HTTP/1.", 7) || p[7] < '0' || p[7] > '9')
        return -1;
    return p[7] - '0';
}

/* Split one header line (no CRLF) into a token name and a value with the
 * optional whitespace around it removed.  False if it is not one. */
static inline bool http_split_header(const char *line, size_t len, const char **name,
                                     size_t *name_len, const char **value, size_t *value_len)
{
    size_t n = http_token_len(line, len);
    if (n == 0 || n == len || line[n] != ':')
        return false;
    const char *v = line + n + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (!http_is_value(v, (size_t)(end - v)))
        return false;
    *name = line;
    *name_len = n;
    *value = v;
    *value_len = (size_t)(end - v);
    return true;
}

static inline bool http_name_is(const char *name, size_t len, const char *want)
{
    return len == strlen(want) && strncasecmp(name, want, len) == 0;
}

/* Does the comma-separated token list (a Connection value) hold token? */
static inline bool http_list_has(const char *v, size_t len, const char *token)
{
    const char *end = v + len;
    while (v < end) {
        const char *comma = memchr(v, ',', (size_t)(end - v));
        const char *e = comma ? comma : end;
        const char *b = v;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        const char *t = e;
        while (t > b && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if (http_name_is(b, (size_t)(t - b), token))
            return true;
        v = comma ? comma + 1 : end;
    }
    return false;
}

/* A response status line "HTTP/1.x SP 3DIGIT [SP reason]" (no CRLF): the
 * status code, or -1 if the line is not one. */
static inline int http_parse_status(const char *line, size_t len)
{
    if (len < 12 || http_version_minor(line, 8) < 0 || line[8] != ' ')
        return -1;
    int code = 0;
    for (size_t i = 9; i < 12; i++) {
        if (line[i] < '0' || line[i] > '9')
            return -1;
        code = code * 10 + (line[i] - '0');
    }
    if (code < 100 || (len > 12 && line[12] != ' ') || !http_is_value(line + 12, len - 12))
        return -1;
    return code;
}

/* ---- requests ---------------------------------------------------------- */

/* What hello_http needs to know about a request.  method and target point
 * into the parsed head. */
struct http_request {
    const char *method, *target;
    size_t method_len, target_len;
    int minor;                /* HTTP/1.minor */
    bool host;                /* a Host header was present */
    bool close, keep_alive;   /* Connection: close / keep-alive */
    bool expect_continue;     /* Expect: 100-continue */
    bool transfer_encoding;   /* any Transfer-Encoding (hello_http does not decode chunked) */
    long long content_length; /* -1: none */
};

/* Content-Length: 1*DIGIT, at most 18 of them (no overflow); -1 if bad. */
static inline long long http_parse_length(const char *v, size_t len)
{
    if (len == 0 || len > 18)
        return -1;
    long long n = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        n = n * 10 + (v[i] - '0');
    }
    return n;
}

static inline bool http_request_line(const char *p, size_t len, struct http_request *rq)
{
    const char *sp1 = memchr(p, ' ', len);
    if (!sp1)
        return false;
    const char *sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - p));
    if (!sp2)
        return false;
    rq->method = p;
    rq->method_len = (size_t)(sp1 - p);
    rq->target = sp1 + 1;
    rq->target_len = (size_t)(sp2 - rq->target);
    rq->minor = http_version_minor(sp2 + 1, len - (size_t)(sp2 + 1 - p));
    if (rq->method_len == 0 || http_token_len(p, rq->method_len) != rq->method_len ||
        rq->target_len == 0 || rq->minor < 0)
        return false;
    for (size_t i = 0; i < rq->target_len; i++)
        if ((unsigned char)rq->target[i] <= ' ' || (unsigned char)rq->target[i] >= 0x7f)
            return false;
    return true;
}

static inline bool http_request_header(const char *line, size_t len, struct http_request *rq)
{
    const char *name, *value;
    size_t nlen, vlen;
    if (!http_split_header(line, len, &name, &nlen, &value, &vlen))
        return false;
    if (http_name_is(name, nlen, "Host")) {
        if (rq->host) /* RFC 9112 3.2: more than one Host is a 400 */
            return false;
        rq->host = true;
    } else if (http_name_is(name, nlen, "Content-Length")) {
        long long n = http_parse_length(value, vlen);
        if (n < 0 || (rq->content_length >= 0 && n != rq->content_length))
            return false;
        rq->content_length = n;
    } else if (http_name_is(name, nlen, "Connection")) {
        rq->close |= http_list_has(value, vlen, "close");
        rq->keep_alive |= http_list_has(value, vlen, "keep-alive");
    } else if (http_name_is(name, nlen, "Expect")) {
        rq->expect_continue = http_name_is(value, vlen, "100-continue");
    } else if (http_name_is(name, nlen, "Transfer-Encoding")) {
        rq->transfer_encoding = true;
    }
    return true;
}

/* Parse a request head: everything up to and including the blank line
 * (as readuntil "\r\n\r\n" returns it).  Returns 0, or the status code to
 * refuse it with: 400 for anything malformed (bare LF, obs-fold, a bad
 * name or value, Content-Length that is not a number or disagrees with
 * itself, an HTTP/1.1 request without Host), 501 for Transfer-Encoding. */
static inline int http_parse_request(const char *head, size_t len, struct http_request *rq)
{
    memset(rq, 0, sizeof(*rq));
    rq->content_length = -1;
    const char *p = head, *end = head + len;
    bool first = true;
    for (;;) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        if (!lf || lf == p || lf[-1] != '\r')
            return 400;
        size_t n = (size_t)(lf - 1 - p);
        if (n == 0) /* the blank line */
            break;
        if (first ? !http_request_line(p, n, rq) : !http_request_header(p, n, rq))
            return 400;
        first = false;
        p = lf + 1;
    }
    if (first || (rq->minor >= 1 && !rq->host))
        return 400;
    if (rq->transfer_encoding)
        return rq->content_length >= 0 ? 400 : 501;
    return 0;
}

/* ---- URLs and targets -------------------------------------------------- */

struct http_url {
    bool tls;
    char host[256];
    uint16_t port;
    char path[2048];
};

/* Split "host:port", "[v6]:port" or (with default_port != 0) "host" and
 * "[v6]".  NULL on success, else a one-line reason. */
static inline const char *http_split_hostport(const char *s, size_t len, uint16_t default_port,
                                              char *host, size_t cap, uint16_t *port)
{
    const char *h = s, *colon;
    size_t hlen;
    if (len > 0 && s[0] == '[') {
        const char *rb = memchr(s, ']', len);
        if (!rb)
            return "unterminated [IPv6 address]";
        h = s + 1;
        hlen = (size_t)(rb - h);
        colon = rb + 1 < s + len ? rb + 1 : NULL;
        if (colon && *colon != ':')
            return "junk after ]";
    } else {
        colon = memchr(s, ':', len);
        hlen = colon ? (size_t)(colon - s) : len;
    }
    if (hlen == 0 || hlen >= cap)
        return hlen ? "host name too long" : "empty host";
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    if (!colon) {
        *port = default_port;
        return default_port ? NULL : "missing :port";
    }
    const char *ps = colon + 1, *pe = s + len;
    long v = 0;
    if (ps == pe || pe - ps > 5)
        return "bad port";
    for (const char *q = ps; q < pe; q++) {
        if (*q < '0' || *q > '9')
            return "bad port";
        v = v * 10 + (*q - '0');
    }
    if (v < 1 || v > 65535)
        return "port out of range";
    *port = (uint16_t)v;
    return NULL;
}

/* Split "http[s]://host[:port][/path]".  NULL on success, else a reason. */
static inline const char *http_parse_url(const char *s, struct http_url *u)
{
    if (strncasecmp(s, "http://", 7) == 0) {
        u->tls = false;
        s += 7;
    } else if (strncasecmp(s, "https://", 8) == 0) {
        u->tls = true;
        s += 8;
    } else {
        return "not an http:// or https:// URL";
    }
    size_t alen = strcspn(s, "/?#");
    if (memchr(s, '@', alen))
        return "user names in URLs are not supported";
    const char *err =
        http_split_hostport(s, alen, u->tls ? 443 : 80, u->host, sizeof(u->host), &u->port);
    if (err)
        return err;
    const char *path = s + alen;
    size_t plen = strcspn(path, "#"); /* the fragment never goes on the wire */
    int n = snprintf(u->path, sizeof(u->path), "%s%.*s", *path == '/' ? "" : "/", (int)plen, path);
    if (n < 0 || (size_t)n >= sizeof(u->path))
        return "path too long";
    for (const char *q = u->path; *q; q++)
        if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f)
            return "path has spaces or control characters (percent-encode them)";
    return NULL;
}

/* ---- clients on cio streams ---------------------------------------------- */

/* The kinds of failure, as http_headers' exit statuses. */
enum http_failure {
    HTTP_FAIL_DNS = 3,
    HTTP_FAIL_CONNECT = 4, /* refused, unreachable, reset, ... */
    HTTP_FAIL_TLS = 5,
    HTTP_FAIL_HTTP = 6, /* the answer is not HTTP */
    HTTP_FAIL_TIMEOUT = 7,
};

static inline enum http_failure http_failure_of(int err)
{
    if (err <= CIO_EAI_AGAIN && err >= CIO_EAI_OTHER)
        return HTTP_FAIL_DNS;
    if (err <= CIO_ETLS && err >= CIO_ETLSNOTLS)
        return HTTP_FAIL_TLS;
    return HTTP_FAIL_CONNECT;
}

/* "DNS: name or service not known", "connection: Connection refused",
 * "TLS: certificate verification failed (self-signed certificate)": a
 * stream error in one line, with OpenSSL's reason for TLS (of s, or of
 * this thread when no stream was made). */
static inline const char *http_describe(int err, const cio_stream *s, char *buf, size_t cap)
{
    static const char *const kind[] = {
        [HTTP_FAIL_DNS] = "DNS", [HTTP_FAIL_CONNECT] = "connection", [HTTP_FAIL_TLS] = "TLS"};
    enum http_failure f = http_failure_of(err);
    const char *reason = f == HTTP_FAIL_TLS ? cio_tls_error_reason(s) : "";
    snprintf(buf, cap, "%s: %s%s%s%s", kind[f], cio_strerror(err), *reason ? " (" : "", reason,
             *reason ? ")" : "");
    return buf;
}

/* Send "HEAD path HTTP/1.1" with Host and Connection: close. */
static inline int http_send_head(cio_stream *s, const struct http_url *u)
{
    char req[sizeof(u->path) + sizeof(u->host) + 128], port[8] = "";
    bool v6 = strchr(u->host, ':') != NULL;
    if (u->port != (u->tls ? 443 : 80))
        snprintf(port, sizeof(port), ":%u", u->port);
    int n = snprintf(req, sizeof(req),
                     "HEAD %s HTTP/1.1\r\nHost: %s%s%s%s\r\nUser-Agent: cio-example\r\n"
                     "Connection: close\r\n\r\n",
                     u->path, v6 ? "[" : "", u->host, v6 ? "]" : "", port);
    int rc = cio_write(s, req, (size_t)n);
    return rc ? rc : cio_drain(s);
}

/* Read a response head with readline: the status line, then header lines
 * up to the blank line, handing each (without its CRLF) to
 * line(arg, text, len) if line is not NULL.  Returns the status code; 0
 * if the peer did not answer HTTP (*why says how); or a negative cio
 * error from the stream. */
static inline int http_read_head(cio_stream *s, void (*line)(void *, const char *, size_t),
                                 void *arg, const char **why)
{
    int status = 0; /* 0 until the status line is in */
    for (;;) {
        const char *l;
        ssize_t n = cio_readline_view(s, &l);
        if (n == CIO_ELIMIT) {
            *why = "response line too long";
            return 0;
        }
        if (n < 0)
            return (int)n;
        if (n < 2 || l[n - 2] != '\r' || l[n - 1] != '\n') {
            *why = n == 0 && !status ? "connection closed without a response"
                                     : "response cut short or not CRLF-terminated";
            return 0;
        }
        n -= 2;
        if (n == 0 && status)
            return status;
        const char *name, *value;
        size_t nlen, vlen;
        if (!status) {
            status = http_parse_status(l, (size_t)n);
            *why = "malformed status line";
        } else if (!http_split_header(l, (size_t)n, &name, &nlen, &value, &vlen)) {
            status = -1;
            *why = "malformed header line";
        }
        if (status < 0)
            return 0;
        if (line)
            line(arg, l, (size_t)n);
    }
}

#endif
