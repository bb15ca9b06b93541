/* fetch_many: talk to many servers at once — one task per target,
 * asyncio.gather over them, a Semaphore capping how many run together,
 * and a timeout on each.
 *
 * The asyncio program it mirrors:
 *
 *     sem = asyncio.Semaphore(4)                          # --concurrency
 *
 *     async def fetch(target):
 *         async with sem:
 *             t0 = loop.time()
 *             try:
 *                 async with asyncio.timeout(5):          # --timeout
 *                     reader, writer = await asyncio.open_connection(host, port)
 *                     writer.write(b"HEAD / HTTP/1.1\r\n...")   # or b"ping\n"
 *                     reply = await reader.readline()
 *             except (OSError, TimeoutError) as e:
 *                 print(target, "error", e)
 *                 return False
 *             print(target, "ok", round((loop.time() - t0) * 1000), "ms:", reply)
 *             return True
 *
 *     results = await asyncio.gather(*(fetch(t) for t in targets))
 *
 * What it shows:
 *  - cio_spawn + cio_gather: all targets in flight together, each in its
 *    own task with its own straight-line code.
 *  - cio_sem_acquire/release bounding the concurrency (the summary line
 *    reports the most that ever ran at once).
 *  - A timeout scope per target, entered once the task holds a permit,
 *    so time spent queueing for one does not count.  A server that
 *    accepts but never answers costs its target the timeout, nothing
 *    more: the others go on.
 *
 * Targets: an http:// or https:// URL gets a HEAD request and reports the
 * status line; HOST:PORT gets "ping\n" and reports the line that comes
 * back (an echo server's echo).  Results print as they come in.  Exit
 * status 0 if every target answered, 1 if any failed.
 *
 * Try it:  ./echo_server --port 7777 &  ./hello_http --port 8080 &
 *          ./fetch_many --timeout 1 127.0.0.1:7777 http://127.0.0.1:8080/ 127.0.0.1:9 */
#include "common.h"
#include "http_parse.h"

static struct {
    const char *cafile;
    long concurrency;
    double timeout;
} cfg = {NULL, 4, 5.0};

struct job {
    const char *target;
    bool http;           /* a URL: HEAD; else HOST:PORT: a line */
    struct http_url url; /* host, port (and path) either way */
    const char *phase;   /* what it was doing, for a timeout */
    char detail[512];    /* the reply, or why it failed */
};

static cio_sem permits;
static cio_tls_ctx *tls; /* for https targets */
static size_t running, peak;

/* Keeps the status line (the first line) of an HTTP response. */
static void keep_status(void *arg, const char *line, size_t len)
{
    struct job *j = arg;
    if (!j->detail[0])
        snprintf(j->detail, sizeof(j->detail), "%.*s", (int)len, line);
}

/* Send "ping\n", read a line back into j->detail. */
static int ping(struct job *j, cio_stream *s)
{
    const char *line;
    int rc = cio_write(s, "ping\n", 5);
    ssize_t n = rc ? rc : cio_readline_view(s, &line);
    if (n == 0) {
        snprintf(j->detail, sizeof(j->detail), "closed without a reply");
        return 1;
    }
    if (n < 0)
        return (int)n;
    n -= n > 0 && line[n - 1] == '\n';
    snprintf(j->detail, sizeof(j->detail), "%.*s", (int)n, line);
    return 0;
}

/* Connect, ask, read the answer: 0 with the reply in j->detail, else a
 * cio error or 1, with the reason in j->detail. */
static int exchange(struct job *j)
{
    cio_connect_opts co = CIO_CONNECT_OPTS_INIT;
    co.tls = j->url.tls ? tls : NULL;
    cio_stream *s;
    j->phase = "connecting";
    int rc = cio_open_connection(&s, j->url.host, j->url.port, &co);
    if (rc) {
        http_describe(rc, NULL, j->detail, sizeof(j->detail));
        return rc;
    }
    j->phase = "waiting for the reply";
    if (j->http) {
        const char *why;
        rc = http_send_head(s, &j->url);
        rc = rc ? rc : http_read_head(s, keep_status, j, &why);
        if (rc == 0) {
            snprintf(j->detail, sizeof(j->detail), "HTTP: %s", why);
            rc = 1;
        } else if (rc > 0) {
            rc = 0;
        }
    } else {
        rc = ping(j, s);
    }
    if (rc < 0)
        http_describe(rc, s, j->detail, sizeof(j->detail));
    cio_close(s);
    cio_wait_closed(s);
    cio_stream_release(s);
    return rc;
}

/* One target's task: wait for a permit, then the exchange within the
 * timeout.  Returns 1 on success, 0 on failure. */
static intptr_t fetch(void *arg)
{
    struct job *j = arg;
    if (cio_sem_acquire(&permits))
        return 0; /* cancelled while queueing */
    if (++running > peak)
        peak = running;
    double t0 = cio_time();
    cio_timeout t;
    cio_timeout_enter(&t, cfg.timeout);
    int rc = exchange(j);
    bool expired = cio_timeout_exit(&t);
    running--;
    cio_sem_release(&permits);

    if (rc == -ETIMEDOUT && expired)
        snprintf(j->detail, sizeof(j->detail), "timed out after %g s (%s)", cfg.timeout, j->phase);
    if (rc == 0)
        printf("%s ok %.0f ms: %s\n", j->target, (cio_time() - t0) * 1000, j->detail);
    else
        printf("%s error %s\n", j->target, j->detail);
    return rc == 0;
}

/* Gather one task per job; prints the summary, returns the exit status. */
static int fetch_all(struct job *jobs, size_t n)
{
    cio_task **tasks = calloc(n, sizeof(*tasks));
    intptr_t *ok = calloc(n, sizeof(*ok));
    if (!tasks || !ok) {
        free(tasks);
        free(ok);
        return ex_fail("fetch", -ENOMEM);
    }
    double t0 = cio_time();
    size_t spawned = 0, good = 0;
    int rc = 0;
    while (spawned < n && (rc = cio_spawn(&tasks[spawned], fetch, &jobs[spawned], NULL)) == 0)
        spawned++;
    int grc = cio_gather(tasks, spawned, ok);
    for (size_t i = 0; i < spawned; i++)
        good += ok[i] == 1;
    printf("%zu targets: %zu ok, %zu failed, at most %zu at once (--concurrency %ld), "
           "%.0f ms in all\n",
           n, good, n - good, peak, cfg.concurrency, (cio_time() - t0) * 1000);
    free(tasks);
    free(ok);
    if (rc || grc)
        return ex_fail(rc ? "spawn" : "gather", rc ? rc : grc);
    return good == n ? 0 : 1;
}

static struct job *jobs;
static size_t njobs;

static intptr_t client(void *arg)
{
    (void)arg;
    cio_sem_init(&permits, (size_t)cfg.concurrency);
    for (size_t i = 0; i < njobs && !tls; i++) {
        if (jobs[i].url.tls) {
            int rc = ex_client_tls(cfg.cafile, &tls);
            if (rc)
                return rc;
        }
    }
    int rc = fetch_all(jobs, njobs);
    cio_tls_ctx_free(tls);
    return rc;
}

/* An http(s):// URL or HOST:PORT ("[::1]:7" for IPv6). */
static void parse_target(struct job *j, const char *target)
{
    j->target = target;
    j->http = strstr(target, "://") != NULL;
    const char *err = j->http ? http_parse_url(target, &j->url)
                              : http_split_hostport(target, strlen(target), 0, j->url.host,
                                                    sizeof(j->url.host), &j->url.port);
    if (err) {
        fprintf(stderr, "%s: %s: %s (try --help)\n", ex_prog, target, err);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    const ex_opt opts[] = {
        {"--concurrency", "N", EX_COUNT, &cfg.concurrency,
         "at most N targets in flight at once (default 4)"},
        {"--timeout", "SECONDS", EX_SECONDS, &cfg.timeout,
         "give each target this long, from connect to reply (default 5)"},
        {"--cafile", "FILE", EX_STR, &cfg.cafile, "https: trust these CAs (PEM), not the system's"},
        {NULL, NULL, 0, NULL, NULL},
    };
    int i = ex_parse(argc, argv, "[options] TARGET...",
                     "Contacts every TARGET at once (at most --concurrency together) and prints\n"
                     "one line per target as it finishes: \"TARGET ok MS ms: REPLY\" or\n"
                     "\"TARGET error REASON\", then a summary.  An http:// or https:// URL gets\n"
                     "a HEAD request (REPLY is the status line); HOST:PORT gets \"ping\" and a\n"
                     "line back (an echo server).  Exit status 1 if any target failed.",
                     opts);
    if (i == argc)
        ex_bad_usage("%s", "no TARGET given");
    njobs = (size_t)(argc - i);
    jobs = calloc(njobs, sizeof(*jobs));
    if (!jobs)
        return ex_fail("targets", -ENOMEM);
    for (size_t k = 0; k < njobs; k++)
        parse_target(&jobs[k], argv[i + (int)k]);
    int rc = ex_run(client);
    free(jobs);
    return rc;
}
