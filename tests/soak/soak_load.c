/* The soak's load side: cfg->conns connection slots, each opening one
 * connection after another to a random service until the time is up.  A
 * connection sends 1-8 messages of 1 B to 256 KiB (log-uniform sizes,
 * random bytes ending in a newline) in random chunks from a writer task,
 * while the slot's task reads the echo back in random chunks and compares
 * each message's hash with the one the writer computed.  Each connection
 * ends one of three ways: close after the last echo, half-close
 * (write_eof right after the last message, then the echo and EOF must
 * still arrive; not over TLS, which cannot), or a reset (SO_LINGER 0 + abort) in the middle of a
 * message once the earlier messages have come back.  A sampler task reads
 * the server's RSS and open fds every 5 s. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "soak.h"

#define MAX_MSGS 8
#define CONN_TIMEOUT 120.0 /* a connection that takes longer has stalled */

enum ending { END_CLOSE, END_HALF_CLOSE, END_RESET };

static uint64_t rng_next(uint64_t *s) /* xorshift64* */
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}
#define FNV_INIT 14695981039346656037ull

struct conn {
    cio_stream *s;
    uint64_t content_rng; /* the writer's byte stream */
    uint64_t chunk_rng;
    size_t nmsgs, size[MAX_MSGS];
    uint64_t hash[MAX_MSGS];
    enum ending ending;
    size_t reset_msg, reset_off; /* END_RESET: stop after this many bytes of that message */
    uint64_t bytes_sent;
};

static const struct soak_load_cfg *cfg;
static struct soak_load_result *res;
static double t_start, t_end;
static bool stopping;

/* Fill p with message bytes: anything but '\n', which ends the message. */
static void fill(struct conn *c, unsigned char *p, size_t n, bool last_chunk)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)rng_next(&c->content_rng);
        p[i] = b == '\n' ? 'n' : b;
    }
    if (last_chunk)
        p[n - 1] = '\n';
}

static size_t chunk_len(uint64_t *rng, size_t left)
{
    size_t max = 1 + rng_next(rng) % SOAK_MAX_CHUNK;
    return left < max ? left : max;
}

static intptr_t writer(void *arg)
{
    struct conn *c = arg;
    unsigned char buf[SOAK_MAX_CHUNK];
    for (size_t m = 0; m < c->nmsgs; m++) {
        bool resetting = c->ending == END_RESET && m == c->reset_msg;
        size_t total = resetting ? c->reset_off : c->size[m];
        /* The hash is complete before the last byte goes out, so before
         * the reader can have its echo. */
        c->hash[m] = FNV_INIT;
        for (size_t done = 0; done < total;) {
            size_t n = chunk_len(&c->chunk_rng, total - done);
            fill(c, buf, n, !resetting && done + n == total);
            c->hash[m] = fnv1a(c->hash[m], buf, n);
            int rc = cio_write(c->s, buf, n);
            if (rc == 0)
                rc = cio_drain(c->s);
            if (rc)
                return rc;
            done += n;
            c->bytes_sent += n;
        }
        if (resetting)
            return 0;
    }
    return c->ending == END_HALF_CLOSE ? cio_write_eof(c->s) : 0;
}

/* Read message m's echo and check its hash; returns 0 or an error. */
static int read_echo(struct conn *c, size_t m)
{
    unsigned char buf[SOAK_MAX_CHUNK];
    uint64_t h = FNV_INIT;
    size_t got = 0;
    while (got < c->size[m]) {
        ssize_t n = cio_read(c->s, buf, chunk_len(&c->chunk_rng, c->size[m] - got));
        if (n <= 0) {
            res->lost_bytes += c->size[m] - got;
            return n ? (int)n : CIO_EINCOMPLETE;
        }
        h = fnv1a(h, buf, (size_t)n);
        got += (size_t)n;
        res->bytes_echoed += (uint64_t)n;
    }
    if (h != c->hash[m])
        res->mismatches++;
    res->messages++;
    return 0;
}

static int open_conn(cio_stream **s, int service, cio_tls_ctx *tls)
{
    cio_connect_opts o = CIO_CONNECT_OPTS_INIT;
    enum soak_transport t = service / SOAK_NKINDS;
    if (t == SOAK_UNIX) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s.sock", cfg->dir,
                 service % SOAK_NKINDS == SOAK_ECHO ? "echo" : "line");
        return cio_open_unix_connection(s, path, &o);
    }
    if (t == SOAK_TLS) {
        o.tls = tls;
        o.server_hostname = "localhost";
    }
    return cio_open_connection(s, "127.0.0.1", cfg->addrs.port[service], &o);
}

static void plan(struct conn *c, uint64_t *rng)
{
    c->nmsgs = 1 + rng_next(rng) % MAX_MSGS;
    for (size_t m = 0; m < c->nmsgs; m++) {
        unsigned bits = (unsigned)(rng_next(rng) % 19); /* sizes 1 B .. 256 KiB */
        c->size[m] = 1 + rng_next(rng) % (1u << bits);
    }
    unsigned e = (unsigned)(rng_next(rng) % 4);
    c->ending = e < 2 ? END_CLOSE : e == 2 ? END_HALF_CLOSE : END_RESET;
    c->reset_msg = rng_next(rng) % c->nmsgs;
    c->reset_off = rng_next(rng) % c->size[c->reset_msg];
    c->content_rng = rng_next(rng) | 1;
    c->chunk_rng = rng_next(rng) | 1;
}

/* Reads every echo the plan expects back, then ends the connection as
 * planned.  Returns 0 or the first unexpected error. */
static int converse(struct conn *c)
{
    cio_task *w;
    int rc = cio_spawn(&w, writer, c, NULL);
    if (rc)
        return rc;
    size_t upto = c->ending == END_RESET ? c->reset_msg : c->nmsgs;
    for (size_t m = 0; m < upto && rc == 0; m++)
        rc = read_echo(c, m);
    if (rc == 0 && c->ending == END_HALF_CLOSE) {
        char b;
        ssize_t n = cio_read(c->s, &b, 1);
        rc = n == 0 ? 0 : n < 0 ? (int)n : CIO_ELIMIT; /* bytes after the last echo */
    }
    if (rc) /* a stalled writer would keep the join waiting */
        cio_cancel(w);
    intptr_t wrc = 0;
    int jrc = cio_join(w, &wrc);
    if (rc == 0)
        rc = jrc ? jrc : (int)wrc;
    res->bytes_sent += c->bytes_sent;
    if (rc == 0 && c->ending == END_RESET) {
        struct linger lg = {1, 0};
        setsockopt(cio_stream_fd(c->s), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        cio_abort(c->s);
    }
    return rc;
}

static intptr_t slot(void *arg)
{
    uint64_t rng = cfg->seed * 6364136223846793005ull + (uintptr_t)arg * 1442695040888963407ull;
    rng |= 1;
    cio_tls_ctx *tls;
    cio_tls_client_opts to = CIO_TLS_CLIENT_OPTS_INIT;
    to.cafile = cfg->cafile;
    int rc = cio_tls_client_ctx(&tls, &to);
    if (rc) {
        soak_tally_add(&res->errors, rc);
        return rc;
    }
    while (!stopping && cio_time() < t_end) {
        struct conn c = {0};
        plan(&c, &rng);
        int service = (int)(rng_next(&rng) % SOAK_NSERVICES);
        if (service / SOAK_NKINDS == SOAK_TLS && c.ending == END_HALF_CLOSE)
            c.ending = END_CLOSE; /* TLS has no write_eof (-ENOTSUP) */
        cio_timeout scope;
        cio_timeout_enter(&scope, CONN_TIMEOUT);
        rc = open_conn(&c.s, service, tls);
        if (rc == 0)
            rc = converse(&c);
        cio_timeout_exit(&scope);
        if (c.s) {
            cio_close(c.s);
            cio_stream_release(c.s);
        }
        if (rc) {
            soak_tally_add(&res->errors, rc);
            continue;
        }
        res->conns_closed += c.ending == END_CLOSE;
        res->conns_half_closed += c.ending == END_HALF_CLOSE;
        res->conns_reset += c.ending == END_RESET;
    }
    cio_tls_ctx_free(tls);
    return 0;
}

static void sample(void)
{
    char path[64], line[256];
    long rss = -1, fds = 0;
    snprintf(path, sizeof(path), "/proc/%d/status", cfg->server_pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld", &rss) == 1)
            break;
    if (f)
        fclose(f);
    snprintf(path, sizeof(path), "/proc/%d/fd", cfg->server_pid);
    DIR *d = opendir(path);
    for (struct dirent *e; d && (e = readdir(d));)
        fds += e->d_name[0] != '.';
    if (d)
        closedir(d);
    size_t i = res->nsamples;
    if (i == sizeof(res->sample_t) / sizeof(res->sample_t[0]))
        return;
    res->sample_t[i] = cio_time() - t_start;
    res->sample_rss[i] = rss;
    res->sample_fds[i] = d ? fds : -1;
    res->nsamples++;
    printf("  t=%5.0f s  server rss %7ld KiB  fds %5ld  messages %llu\n", res->sample_t[i], rss,
           fds, (unsigned long long)res->messages);
    fflush(stdout);
}

/* Samples at 5, 10, ... s while the load is still full (periodic sampling,
 * not synchronisation: nothing waits for it). */
static intptr_t sampler(void *arg)
{
    (void)arg;
    for (double next = t_start + 5.0; next < t_end; next += 5.0) {
        if (cio_sleep(next - cio_time()))
            return 0;
        sample();
    }
    return 0;
}

static intptr_t load_main(void *arg)
{
    (void)arg;
    t_start = cio_time();
    t_end = t_start + cfg->seconds;
    cio_task *smp;
    int rc = cio_spawn(&smp, sampler, NULL, NULL);
    if (rc)
        return rc;
    cio_task_group g;
    cio_group_init(&g);
    for (uintptr_t i = 0; i < cfg->conns && rc == 0; i++)
        rc = cio_group_spawn(&g, NULL, slot, (void *)i, NULL);
    if (rc)
        stopping = true;
    int grc = cio_group_wait(&g);
    cio_cancel(smp);
    cio_join(smp, NULL);
    return rc ? rc : grc;
}

int soak_load_run(const struct soak_load_cfg *c, struct soak_load_result *r)
{
    cfg = c;
    res = r;
    return (int)cio_run(load_main, NULL);
}
