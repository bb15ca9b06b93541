/* http_headers: print the response headers of an http:// or https:// URL.
 *
 * The asyncio program it mirrors (the docs' "Get HTTP headers" example,
 * with the timeout and the error handling a real client needs):
 *
 *     async def print_http_headers(url):
 *         url = urllib.parse.urlsplit(url)
 *         async with asyncio.timeout(10):
 *             if url.scheme == 'https':
 *                 reader, writer = await asyncio.open_connection(
 *                     url.hostname, url.port or 443, ssl=True)
 *             else:
 *                 reader, writer = await asyncio.open_connection(
 *                     url.hostname, url.port or 80)
 *             query = (f"HEAD {url.path or '/'} HTTP/1.1\r\n"
 *                      f"Host: {url.hostname}\r\nConnection: close\r\n\r\n")
 *             writer.write(query.encode('latin-1'))
 *             while (line := await reader.readline()) != b'\r\n':
 *                 print(line.decode('latin1').rstrip())
 *             writer.close()
 *             await writer.wait_closed()
 *
 * What it shows:
 *  - cio_open_connection resolving a name (through the thread pool) and
 *    connecting, for https with a TLS client context: the server's
 *    certificate is verified against the system CAs (or --cafile) and
 *    must be for the host name in the URL (asyncio's ssl=True).
 *  - cio_readline until the blank line (http_parse.h checks each line).
 *  - One timeout scope around everything (asyncio.timeout).
 *  - Each way of failing has its own one-line message and exit status:
 *    the DNS errors (CIO_EAI_*), connection errors (-ECONNREFUSED, ...),
 *    TLS errors (CIO_ETLSCERT, CIO_ETLSHOSTNAME, ... with OpenSSL's
 *    reason), an answer that is not HTTP, the timeout.
 *
 * Try it:  ./http_headers https://example.com/
 *          ./hello_http --port 8080 &  ./http_headers http://127.0.0.1:8080/ */
#include "common.h"
#include "http_parse.h"

#define CLOSE_WAIT 2.0 /* seconds for a graceful close once we have the headers */

static struct {
    const char *url, *cafile;
    double timeout;
} cfg = {NULL, NULL, 10.0};

static void print_line(void *arg, const char *line, size_t len)
{
    (void)arg;
    printf("%.*s\n", (int)len, line);
}

/* One line on stderr; returns the exit status.  A -ETIMEDOUT while our
 * deadline has expired is the --timeout, not the kernel's. */
static int fail(int err, const cio_stream *s, const cio_timeout *deadline)
{
    char buf[512];
    if (err == -ETIMEDOUT && cio_timeout_expired(deadline)) {
        fprintf(stderr, "%s: %s: timed out (--timeout %g)\n", ex_prog, cfg.url, cfg.timeout);
        return HTTP_FAIL_TIMEOUT;
    }
    fprintf(stderr, "%s: %s: %s\n", ex_prog, cfg.url, http_describe(err, s, buf, sizeof(buf)));
    return http_failure_of(err);
}

static int print_headers(const struct http_url *u, cio_tls_ctx *tls, const cio_timeout *deadline)
{
    cio_connect_opts co = CIO_CONNECT_OPTS_INIT;
    co.tls = tls;
    cio_stream *s;
    int rc = cio_open_connection(&s, u->host, u->port, &co);
    if (rc)
        return fail(rc, NULL, deadline);
    const char *why = NULL;
    rc = http_send_head(s, u);
    if (rc == 0)
        rc = http_read_head(s, print_line, NULL, &why);
    if (rc == 0) {
        fprintf(stderr, "%s: %s: HTTP: %s\n", ex_prog, cfg.url, why);
        rc = HTTP_FAIL_HTTP;
    } else {
        rc = rc < 0 ? fail(rc, s, deadline) : 0;
    }
    /* We asked for Connection: close, so the server closes too; with TLS
     * the close exchanges close_notify.  Give that a moment, no more: the
     * headers are out already. */
    cio_timeout bye;
    cio_timeout_enter(&bye, CLOSE_WAIT);
    cio_close(s);
    if (cio_wait_closed(s) == -ETIMEDOUT)
        cio_abort(s);
    cio_timeout_exit(&bye);
    cio_stream_release(s);
    return rc;
}

static intptr_t client(void *arg)
{
    (void)arg;
    struct http_url u;
    const char *err = http_parse_url(cfg.url, &u);
    if (err) {
        fprintf(stderr, "%s: %s: %s\n", ex_prog, cfg.url, err);
        return 2;
    }
    cio_tls_ctx *tls = NULL;
    if (u.tls) {
        int rc = ex_client_tls(cfg.cafile, &tls);
        if (rc)
            return rc;
    }
    cio_timeout deadline;
    cio_timeout_enter(&deadline, cfg.timeout);
    int rc = print_headers(&u, tls, &deadline);
    cio_timeout_exit(&deadline);
    cio_tls_ctx_free(tls);
    return rc;
}

int main(int argc, char **argv)
{
    const ex_opt opts[] = {
        {"--cafile", "FILE", EX_STR, &cfg.cafile, "https: trust these CAs (PEM), not the system's"},
        {"--timeout", "SECONDS", EX_SECONDS, &cfg.timeout,
         "give up after this long, all steps together (default 10)"},
        {NULL, NULL, 0, NULL, NULL},
    };
    int i = ex_parse(argc, argv, "[options] URL",
                     "Prints the status line and headers of URL (http:// or https://), fetched\n"
                     "with HEAD; https verifies the server's certificate and name.\n"
                     "\n"
                     "exit status: 0 got a response (whatever its status code), 1 cannot load\n"
                     "the CAs, 2 bad usage or URL, 3 DNS error, 4 connection error, 5 TLS error\n"
                     "(certificate, host name, handshake), 6 the answer is not HTTP, 7 timeout",
                     opts);
    if (i != argc - 1)
        ex_bad_usage("%s", i == argc ? "no URL given" : "more than one URL given");
    cfg.url = argv[i];
    return ex_run(client);
}
