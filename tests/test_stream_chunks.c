/* Exhaustive chunking tests for the stream reader (STYLE.md 13): the same
 * input is fed through every way of splitting it into 2 chunks, into 3
 * chunks, byte by byte and whole, with limits 1, 3, 7 and the default,
 * and the results of readline / readuntil / readexactly programs must
 * equal those of a model: asyncio 3.13's StreamReader algorithm written
 * out in plain C over the whole input, plus cio's documented rules
 * (readline resynchronises after an over-long line; readuntil leaves the
 * partial data buffered at EOF; every read first finishes skipping a bad
 * line).
 *
 * Chunk boundaries are real: a writer task writes chunk k to the raw
 * peer and waits until the reader has taken it out of the socket (FIONREAD
 * is 0) before it writes chunk k+1, so every time the reader asks the
 * socket for more it gets exactly one chunk, which is what the model
 * assumes.  Even LimitOverrunError's `consumed`, which depends on the
 * chunking, must match. */
#include <stdio.h>

#include "stream_helpers.h"

TestSuite(chunks, .timeout = 120);

enum { MAX_IN = 40, MAX_OPS = 100, CAP = 4096 };

/* ---- programs ------------------------------------------------------------------- */

enum op_code { C_READLINE, C_READUNTIL, C_READEXACTLY, C_READ_ALL };

typedef struct step {
    enum op_code code;
    const struct iovec *seps; /* C_READUNTIL */
    size_t nseps;
    size_t n; /* C_READEXACTLY */
} step;

/* A program: its steps are repeated in a cycle until one reports EOF.
 * For readuntil, EOF or a limit error ends the program (nothing was
 * consumed) unless `go_on_after_limit`; what is left is then read with
 * read_all. */
typedef struct program {
    const char *name;
    step steps[4];
    int nsteps;
    bool go_on_after_limit;
} program;

typedef struct entry {
    enum op_code code;
    ssize_t rc;
    size_t consumed; /* CIO_ELIMIT */
    size_t len;      /* bytes delivered: result, partial, read_all */
    char data[MAX_IN];
} entry;

typedef struct transcript {
    entry e[MAX_OPS];
    int n;
} transcript;

/* The reader under test or the model, behind one interface. */
typedef struct reader_ops {
    ssize_t (*readline)(void *ctx, char *buf);
    ssize_t (*readuntil)(void *ctx, const struct iovec *seps, size_t nseps, char *buf);
    ssize_t (*readexactly)(void *ctx, char *buf, size_t n, size_t *partial);
    ssize_t (*read_all)(void *ctx, char *buf);
    size_t (*consumed)(void *ctx);
} reader_ops;

static void record(entry *e, enum op_code code, ssize_t rc, const char *buf, size_t len)
{
    cr_assert_leq(len, MAX_IN);
    e->code = code;
    e->rc = rc;
    e->len = len;
    e->consumed = 0;
    memcpy(e->data, buf, len);
}

static void run_program(const program *p, const reader_ops *ops, void *ctx, transcript *t)
{
    char buf[CAP];
    t->n = 0;
    for (int i = 0;; i++) {
        cr_assert_lt(t->n, MAX_OPS - 1, "%s: no end after %d steps", p->name, t->n);
        const step *st = &p->steps[i % p->nsteps];
        entry *e = &t->e[t->n++];
        ssize_t rc = 0;
        bool end = false, rest = false;
        switch (st->code) {
        case C_READLINE:
            rc = ops->readline(ctx, buf);
            record(e, st->code, rc, buf, rc > 0 ? (size_t)rc : 0);
            end = rc == 0;
            break;
        case C_READUNTIL:
            rc = ops->readuntil(ctx, st->seps, st->nseps, buf);
            record(e, st->code, rc, buf, rc > 0 ? (size_t)rc : 0);
            end = rest = rc == CIO_EINCOMPLETE || (rc == CIO_ELIMIT && !p->go_on_after_limit);
            break;
        case C_READEXACTLY: {
            size_t partial = 0;
            rc = ops->readexactly(ctx, buf, st->n, &partial);
            record(e, st->code, rc, buf, rc > 0 ? (size_t)rc : partial);
            end = rc == CIO_EINCOMPLETE;
            break;
        }
        case C_READ_ALL:
            cr_assert_fail("read_all is not a step");
        }
        if (rc == CIO_ELIMIT)
            e->consumed = ops->consumed(ctx);
        if (!end)
            continue;
        if (rest) {
            e = &t->e[t->n++];
            rc = ops->read_all(ctx, buf);
            record(e, C_READ_ALL, rc, buf, rc > 0 ? (size_t)rc : 0);
        }
        return;
    }
}

/* ---- the model ------------------------------------------------------------------------ */

typedef struct model {
    const char *in;
    const size_t *ends; /* cumulative end offset of each chunk */
    size_t nchunks;
    size_t delivered; /* chunks the reader has received */
    size_t pos;       /* bytes consumed */
    bool eof;
    bool discard; /* readline resync pending */
    size_t limit;
    size_t consumed;
} model;

static size_t m_avail(const model *m)
{
    return m->delivered ? m->ends[m->delivered - 1] : 0;
}

static size_t m_len(const model *m)
{
    return m_avail(m) - m->pos;
}

static const char *m_head(const model *m)
{
    return m->in + m->pos;
}

/* _wait_for_data: the next chunk, or EOF. */
static bool m_fill(model *m)
{
    if (!m->eof && m->delivered < m->nchunks) {
        m->delivered++;
        return true;
    }
    m->eof = true;
    return false;
}

/* cio: before any read, finish skipping the rest of an over-long line. */
static void m_skip(model *m)
{
    while (m->discard) {
        const char *nl = memchr(m_head(m), '\n', m_len(m));
        if (nl) {
            m->pos += (size_t)(nl - m_head(m)) + 1;
            m->discard = false;
            return;
        }
        m->pos = m_avail(m);
        if (!m_fill(m))
            m->discard = false;
    }
}

/* bytes.find(sep, offset) */
static ssize_t find(const char *buf, size_t len, const struct iovec *sep, size_t offset)
{
    for (size_t i = offset; i + sep->iov_len <= len; i++)
        if (memcmp(buf + i, sep->iov_base, sep->iov_len) == 0)
            return (ssize_t)i;
    return -1;
}

/* asyncio 3.13 StreamReader.readuntil, transcribed; returns the match end
 * (the length to hand out), CIO_ELIMIT (consumed set) or CIO_EINCOMPLETE.
 * Consumes nothing. */
static ssize_t m_readuntil_len(model *m, const struct iovec *in_seps, size_t nseps)
{
    /* separator = sorted(separator, key=len) (stable) */
    struct iovec seps[8];
    cr_assert_leq(nseps, 8);
    memcpy(seps, in_seps, nseps * sizeof(*seps));
    for (size_t i = 1; i < nseps; i++)
        for (size_t j = i; j > 0 && seps[j - 1].iov_len > seps[j].iov_len; j--) {
            struct iovec tmp = seps[j];
            seps[j] = seps[j - 1];
            seps[j - 1] = tmp;
        }
    size_t min_seplen = seps[0].iov_len, max_seplen = seps[nseps - 1].iov_len;
    m_skip(m);
    size_t offset = 0;
    ssize_t match_start = -1, match_end = -1;
    for (;;) {
        size_t buflen = m_len(m);
        if (buflen - offset >= min_seplen) {
            match_start = match_end = -1;
            for (size_t i = 0; i < nseps; i++) {
                ssize_t isep = find(m_head(m), buflen, &seps[i], offset);
                if (isep != -1) {
                    ssize_t end = isep + (ssize_t)seps[i].iov_len;
                    if (match_end == -1 || end < match_end) {
                        match_end = end;
                        match_start = isep;
                    }
                }
            }
            if (match_end != -1)
                break;
            offset = buflen + 1 > max_seplen ? buflen + 1 - max_seplen : 0;
            if (offset > m->limit) {
                m->consumed = offset;
                return CIO_ELIMIT;
            }
        }
        if (m->eof)
            return CIO_EINCOMPLETE; /* cio: the partial data stays buffered */
        m_fill(m);
    }
    if ((size_t)match_start > m->limit) {
        m->consumed = (size_t)match_start;
        return CIO_ELIMIT;
    }
    return match_end;
}

static ssize_t m_take(model *m, char *buf, size_t n)
{
    memcpy(buf, m_head(m), n);
    m->pos += n;
    return (ssize_t)n;
}

static ssize_t m_readuntil(void *ctx, const struct iovec *seps, size_t nseps, char *buf)
{
    model *m = ctx;
    ssize_t r = m_readuntil_len(m, seps, nseps);
    return r < 0 ? r : m_take(m, buf, (size_t)r);
}

/* cio's readline: readuntil("\n"), the partial last line at EOF as a
 * result, and resynchronisation on the next line after CIO_ELIMIT. */
static ssize_t m_readline(void *ctx, char *buf)
{
    model *m = ctx;
    static const struct iovec nl = {"\n", 1};
    ssize_t r = m_readuntil_len(m, &nl, 1);
    if (r == CIO_EINCOMPLETE)
        return m_take(m, buf, m_len(m));
    if (r == CIO_ELIMIT) {
        const char *p = memchr(m_head(m), '\n', m_len(m));
        if (p) {
            m->pos += (size_t)(p - m_head(m)) + 1;
        } else {
            m->pos = m_avail(m);
            m->discard = true;
        }
        return r;
    }
    return m_take(m, buf, (size_t)r);
}

static ssize_t m_readexactly(void *ctx, char *buf, size_t n, size_t *partial)
{
    model *m = ctx;
    m_skip(m);
    while (m_len(m) < n) {
        if (!m_fill(m)) {
            *partial = m_len(m);
            m_take(m, buf, m_len(m));
            return CIO_EINCOMPLETE;
        }
    }
    return m_take(m, buf, n);
}

static ssize_t m_read_all(void *ctx, char *buf)
{
    model *m = ctx;
    m_skip(m);
    while (m_fill(m))
        ;
    return m_take(m, buf, m_len(m));
}

static size_t m_consumed(void *ctx)
{
    return ((model *)ctx)->consumed;
}

static const reader_ops model_ops = {m_readline, m_readuntil, m_readexactly, m_read_all,
                                     m_consumed};

/* ---- the real stream -------------------------------------------------------------------- */

static ssize_t r_readline(void *ctx, char *buf)
{
    return cio_readline(ctx, buf, CAP);
}

static ssize_t r_readuntil(void *ctx, const struct iovec *seps, size_t nseps, char *buf)
{
    return cio_readuntil_any(ctx, seps, nseps, buf, CAP);
}

static ssize_t r_readexactly(void *ctx, char *buf, size_t n, size_t *partial)
{
    return cio_readexactly(ctx, buf, n, partial);
}

static ssize_t r_read_all(void *ctx, char *buf)
{
    char *all = NULL;
    size_t len = 0;
    ssize_t rc = cio_read_all(ctx, &all, &len);
    cr_assert_leq(len, MAX_IN);
    if (len)
        memcpy(buf, all, len);
    free(all);
    return rc;
}

static size_t r_consumed(void *ctx)
{
    return cio_stream_overrun_consumed(ctx);
}

static const reader_ops stream_ops = {r_readline, r_readuntil, r_readexactly, r_read_all,
                                      r_consumed};

struct feeder {
    int fd;        /* raw peer */
    int reader_fd; /* the stream's socket */
    const char *in;
    const size_t *ends;
    size_t nchunks;
};

/* Writes chunk k, waits until the reader has received all of it, writes
 * chunk k + 1...; shuts down after the last. */
static intptr_t feeder_task(void *arg)
{
    struct feeder *f = arg;
    size_t start = 0;
    for (size_t k = 0; k < f->nchunks; k++) {
        fd_write_all(f->fd, f->in + start, f->ends[k] - start);
        start = f->ends[k];
        if (k + 1 < f->nchunks)
            YIELD_UNTIL(fd_pending(f->reader_fd) == 0);
    }
    shutdown(f->fd, SHUT_WR);
    return 0;
}

/* ---- one case ---------------------------------------------------------------------------- */

static void describe(char *out, size_t cap, const char *in, const size_t *ends, size_t n,
                     size_t limit)
{
    size_t o = (size_t)snprintf(out, cap, "limit %zu, chunks \"", limit);
    size_t start = 0;
    for (size_t k = 0; k < n && o + 8 < cap; k++) {
        for (size_t i = start; i < ends[k] && o + 8 < cap; i++) {
            if (in[i] == '\n')
                o += (size_t)snprintf(out + o, cap - o, "\\n");
            else if (in[i] == '\r')
                o += (size_t)snprintf(out + o, cap - o, "\\r");
            else
                out[o++] = in[i];
        }
        start = ends[k];
        o += (size_t)snprintf(out + o, cap - o, k + 1 < n ? "\" \"" : "\"");
    }
    out[o < cap ? o : cap - 1] = '\0';
}

static const char *err_or_len(ssize_t rc, char *tmp)
{
    if (rc < 0)
        return cio_err_name((int)rc);
    sprintf(tmp, "%zd", rc);
    return tmp;
}

static long cases;

static void check_case(const program *p, const char *in, const size_t *ends, size_t nchunks,
                       size_t limit)
{
    transcript want, got;
    model m = {.in = in, .ends = ends, .nchunks = nchunks, .limit = limit};
    run_program(p, &model_ops, &m, &want);

    int peer;
    cio_stream_opts o = opts_limit((ssize_t)limit);
    cio_stream *s = raw_pair(&peer, &o);
    struct feeder f = {
        .fd = peer, .reader_fd = cio_stream_fd(s), .in = in, .ends = ends, .nchunks = nchunks};
    cio_task *t = t_spawn(feeder_task, &f);
    run_program(p, &stream_ops, s, &got);
    t_join(t);
    stream_drop(s);
    close(peer);
    cases++;

    char what[256], a[24], b[24];
    describe(what, sizeof(what), in, ends, nchunks, limit);
    for (int i = 0; i < want.n && i < got.n; i++) {
        const entry *w = &want.e[i], *g = &got.e[i];
        cr_assert_eq(g->rc, w->rc, "%s, %s, step %d: got %s, want %s", p->name, what, i,
                     err_or_len(g->rc, a), err_or_len(w->rc, b));
        cr_assert(g->len == w->len && memcmp(g->data, w->data, w->len) == 0,
                  "%s, %s, step %d: got \"%.*s\", want \"%.*s\"", p->name, what, i, (int)g->len,
                  g->data, (int)w->len, w->data);
        if (w->rc == CIO_ELIMIT)
            cr_assert_eq(g->consumed, w->consumed, "%s, %s, step %d: consumed %zu, want %zu",
                         p->name, what, i, g->consumed, w->consumed);
    }
    cr_assert_eq(got.n, want.n, "%s, %s: %d steps, want %d", p->name, what, got.n, want.n);
}

/* Every chunking of `in` (whole, 2 chunks, 3 chunks when short enough,
 * byte by byte) with every limit. */
static void check_all(const program *p, const char *in)
{
    static const size_t limits[] = {1, 3, 7, CIO_DEFAULT_LIMIT};
    size_t len = strlen(in);
    cr_assert_leq(len, MAX_IN);
    size_t ends[MAX_IN];
    cases = 0;
    for (size_t li = 0; li < CIO__ARRAY_SIZE(limits); li++) {
        size_t limit = limits[li];
        ends[0] = len;
        check_case(p, in, ends, 1, limit);
        for (size_t a = 1; a < len; a++) {
            ends[0] = a;
            ends[1] = len;
            check_case(p, in, ends, 2, limit);
        }
        for (size_t a = 1; len <= 24 && a < len; a++)
            for (size_t b = a + 1; b < len; b++) {
                ends[0] = a;
                ends[1] = b;
                ends[2] = len;
                check_case(p, in, ends, 3, limit);
            }
        for (size_t i = 0; i < len; i++)
            ends[i] = i + 1;
        check_case(p, in, ends, len, limit);
    }
    cr_assert_gt(cases, 0);
}

/* ---- inputs and programs -------------------------------------------------------------------- */

static const struct iovec nl_sep[] = {{"\n", 1}};
static const struct iovec crlf_sep[] = {{"\r\n", 2}};
static const struct iovec cr_or_lf[] = {{"\r", 1}, {"\n", 1}};
static const struct iovec crlf_or_lf[] = {{"\r\n", 2}, {"\n", 1}};
static const struct iovec ab_or_b[] = {{"ab", 2}, {"b", 1}};
static const struct iovec b_or_ab[] = {{"b", 1}, {"ab", 2}};
static const struct iovec long_or_short[] = {{"--end--", 7}, {"-e", 2}};
static const struct iovec o_sep[] = {{"o", 1}};
static const struct iovec ne_or_2nl[] = {{"ne", 2}, {"\n\n", 2}};

#define LINES_INPUT "line one\nline two\n\nlast"

static intptr_t case_main(void *arg)
{
    const struct {
        const program *p;
        const char *in;
    } *c = arg;
    check_all(c->p, c->in);
    return 0;
}

#define CHUNK_TEST(name, input, ...)                                                               \
    Test(chunks, name)                                                                             \
    {                                                                                              \
        static const program p_ = {#name, __VA_ARGS__};                                            \
        struct {                                                                                   \
            const program *p;                                                                      \
            const char *in;                                                                        \
        } c_ = {&p_, input};                                                                       \
        int fds_ = t_count_fds();                                                                  \
        cr_assert_eq(cio_run(case_main, &c_), 0);                                                  \
        cr_assert_eq(t_count_fds(), fds_, "fd leak");                                              \
    }

CHUNK_TEST(readline_lines, LINES_INPUT, {{C_READLINE}}, 1, false)
CHUNK_TEST(readline_long_lines_resync, "0123456789\nab\n\nabcdefgh\nxy", {{C_READLINE}}, 1, false)
CHUNK_TEST(readline_crlf_lines, "ab\r\ncd\r\n\r\nefg\r\nh", {{C_READLINE}}, 1, false)
CHUNK_TEST(readuntil_newline, LINES_INPUT, {{C_READUNTIL, nl_sep, 1}}, 1, false)
CHUNK_TEST(readuntil_crlf, "ab\r\ncd\r\n\r\nefg\r\nh", {{C_READUNTIL, crlf_sep, 1}}, 1, false)
CHUNK_TEST(readuntil_any_cr_or_lf, "line 1\nline 2\r\n\rx", {{C_READUNTIL, cr_or_lf, 2}}, 1, false)
CHUNK_TEST(readuntil_any_crlf_or_lf, "ab\r\ncd\n\r\n\nefg\r\nh", {{C_READUNTIL, crlf_or_lf, 2}}, 1,
           false)
CHUNK_TEST(readuntil_any_tie_goes_to_the_shorter, "xaby-ab-bb-aab-xyz", {{C_READUNTIL, ab_or_b, 2}},
           1, false)
CHUNK_TEST(readuntil_any_order_does_not_matter, "xaby-ab-bb-aab-xyz", {{C_READUNTIL, b_or_ab, 2}},
           1, false)
CHUNK_TEST(readuntil_any_long_and_short, "abc--end--def-e--en", {{C_READUNTIL, long_or_short, 2}},
           1, false)
CHUNK_TEST(readexactly_3, LINES_INPUT, {{C_READEXACTLY, .n = 3}}, 1, false)
CHUNK_TEST(readexactly_5, LINES_INPUT, {{C_READEXACTLY, .n = 5}}, 1, false)
CHUNK_TEST(
    mixed_readline_readexactly_readuntil, LINES_INPUT,
    {{C_READLINE}, {C_READEXACTLY, .n = 3}, {C_READUNTIL, o_sep, 1}, {C_READUNTIL, ne_or_2nl, 2}},
    4, true)
CHUNK_TEST(mixed_after_an_overlong_line, "0123456789\nab\n\nabcdefgh\nxy",
           {{C_READLINE}, {C_READEXACTLY, .n = 2}, {C_READUNTIL, nl_sep, 1}}, 3, true)
