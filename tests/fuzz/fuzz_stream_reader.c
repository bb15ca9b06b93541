/* Differential fuzzing of the stream reader.
 *
 * The input decodes into a script: chunks arriving from the peer, the
 * peer's EOF, and reader calls (read, read_all, readexactly, readuntil
 * with one or several multi-byte separators, the view variants, readline)
 * with sizes and buffer capacities, over a stream whose limit the input
 * picks.  Each call runs in its own task in one of three modes:
 *  - patient: while it waits, the script's next arrivals are delivered;
 *  - timeout / cancel: once it waits with nothing more to come, its
 *    timeout scope is made to expire, or the task is cancelled.
 * The script runs against the real reader over a socketpair (the peer end
 * written with write(2) and shutdown(2)) and against reader_model.h; any
 * difference in return codes, bytes, partial counts, needed sizes, limit
 * overrun counts, or in what is left at the end, aborts.
 *
 * "Waits" is observed from outside: the call's task has started and not
 * finished while the socket holds no unread byte and no EOF is pending,
 * so the task can only be parked on the stream. */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio.h"
#include "fuzz_loop.h"
#include "reader_model.h"

enum mode { PATIENT, TIMEOUT, CANCEL };

enum ev_kind { EV_ARRIVE, EV_EOF, EV_OP };

struct event {
    enum ev_kind kind;
    enum mode mode;
    const uint8_t *data; /* EV_ARRIVE */
    size_t len;
    struct op op;
};

struct script {
    size_t limit;
    struct event *ev;
    size_t nev;
};

/* One reader call, run in its own task. */
struct call {
    cio_stream *s;
    const struct op *op;
    bool started;
    cio_timeout *scope; /* TIMEOUT mode: published while the call runs */
    ssize_t rc;
    char *out; /* the bytes the call returned (malloc'd) */
    size_t partial, needed, consumed;
};

struct run {
    const struct script *sc;
    size_t next; /* cursor in sc->ev */
    cio_stream *s;
    int peer;
    bool eof_sent;
    model m;
};

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_stream_reader: %s:%d: %s\n", __FILE__, __LINE__, #cond);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* ---- decoding --------------------------------------------------------- */

struct cursor {
    const uint8_t *p;
    size_t left;
};

static uint8_t take(struct cursor *c)
{
    if (!c->left)
        return 0;
    c->left--;
    return *c->p++;
}

static const uint8_t *take_bytes(struct cursor *c, size_t *n)
{
    if (*n > c->left)
        *n = c->left;
    const uint8_t *p = c->p;
    c->p += *n;
    c->left -= *n;
    return p;
}

static void decode_seps(struct cursor *c, struct op *op, bool several)
{
    /* readuntil_any may get no separator at all (-EINVAL); readuntil
     * always has one, "\n" when the input ran out before it. */
    op->nseps = several ? take(c) % (MAX_SEPS + 1) : 1;
    for (size_t i = 0; i < op->nseps; i++) {
        size_t len = 1 + take(c) % 4;
        const uint8_t *p = take_bytes(c, &len);
        if (!len) {
            op->nseps = i;
            break;
        }
        op->seps[i] = (struct iovec){.iov_base = (void *)p, .iov_len = len};
    }
    if (!several && !op->nseps) {
        op->nseps = 1;
        op->seps[0] = (struct iovec){.iov_base = "\n", .iov_len = 1};
    }
}

static void decode_op(struct cursor *c, uint8_t code, struct event *e)
{
    static const enum op_kind kinds[] = {OP_READ,           OP_READ_ALL,     OP_READEXACTLY,
                                         OP_READUNTIL,      OP_READUNTIL,    OP_READLINE,
                                         OP_READUNTIL_VIEW, OP_READLINE_VIEW};
    e->kind = EV_OP;
    e->mode = (enum mode)((code >> 4) % 3);
    e->op.kind = kinds[(code >> 1) % 8];
    uint8_t arg = take(c);
    e->op.n = e->op.kind == OP_READ && arg == 255 ? 5000 : arg; /* 5000: the direct path */
    if (e->op.kind == OP_READEXACTLY)
        e->op.n %= 64;
    if (e->op.kind == OP_READUNTIL || e->op.kind == OP_READUNTIL_VIEW)
        decode_seps(c, &e->op, ((code >> 1) % 8) == 4);
}

/* byte 0: the limit (1..48); then events: an even code byte is an arrival
 * (length code % 32, then the bytes) or, for 0xfe, the EOF; an odd one a
 * call (kind from bits 1-3, mode from bits 4-7, an argument byte, then
 * the separators of readuntil). */
static bool decode(const uint8_t *data, size_t size, struct script *sc)
{
    struct cursor c = {data, size};
    sc->limit = 1 + take(&c) % 48;
    sc->ev = calloc(size + 1, sizeof(*sc->ev));
    sc->nev = 0;
    if (!sc->ev)
        return false;
    while (c.left) {
        uint8_t code = take(&c);
        struct event *e = &sc->ev[sc->nev++];
        if (code == 0xfe) {
            e->kind = EV_EOF;
        } else if (code % 2 == 0) {
            e->kind = EV_ARRIVE;
            e->len = take(&c) % 32 + 1;
            e->data = take_bytes(&c, &e->len);
        } else {
            decode_op(&c, code, e);
        }
    }
    return true;
}

/* ---- the real reader ------------------------------------------------------ */

static void keep_bytes(struct call *k, const void *p, ssize_t n)
{
    if (n <= 0)
        return;
    k->out = malloc((size_t)n);
    CHECK(k->out);
    memcpy(k->out, p, (size_t)n);
}

static ssize_t call_op(struct call *k)
{
    const struct op *op = k->op;
    cio_stream *s = k->s;
    char *buf = malloc(op->n ? op->n : 1);
    const char *view = NULL;
    ssize_t rc = -ENOMEM;
    CHECK(buf);
    switch (op->kind) {
    case OP_READ:
        keep_bytes(k, buf, rc = cio_read(s, buf, op->n));
        break;
    case OP_READ_ALL: {
        char *all = NULL;
        size_t len = 0;
        rc = cio_read_all(s, &all, &len);
        CHECK(rc < 0 ? len == 0 : (size_t)rc == len);
        k->out = all;
        break;
    }
    case OP_READEXACTLY:
        rc = cio_readexactly(s, buf, op->n, &k->partial);
        keep_bytes(k, buf, rc == CIO_EINCOMPLETE ? (ssize_t)k->partial : rc);
        break;
    case OP_READUNTIL:
        rc = op->nseps == 1
                 ? cio_readuntil(s, op->seps[0].iov_base, op->seps[0].iov_len, buf, op->n)
                 : cio_readuntil_any(s, op->seps, op->nseps, buf, op->n);
        keep_bytes(k, buf, rc);
        break;
    case OP_READUNTIL_VIEW:
        rc = cio_readuntil_view(s, op->seps[0].iov_base, op->seps[0].iov_len, &view);
        keep_bytes(k, view, rc);
        break;
    case OP_READLINE:
        keep_bytes(k, buf, rc = cio_readline(s, buf, op->n));
        break;
    case OP_READLINE_VIEW:
        rc = cio_readline_view(s, &view);
        keep_bytes(k, view, rc);
        break;
    }
    free(buf);
    return rc;
}

static intptr_t call_task(void *arg)
{
    struct call *k = arg;
    cio_timeout scope;
    cio_timeout_enter(&scope, -1);
    k->scope = &scope;
    k->started = true;
    k->rc = call_op(k);
    k->scope = NULL;
    bool expired = cio_timeout_exit(&scope);
    CHECK(expired == (k->rc == -ETIMEDOUT));
    k->consumed = cio_stream_overrun_consumed(k->s);
    k->needed = cio_stream_needed(k->s);
    return 0;
}

/* ---- driving both --------------------------------------------------------- */

static void deliver(struct run *r, const struct event *e)
{
    if (r->eof_sent || (e->kind == EV_ARRIVE && !e->len))
        return;
    if (e->kind == EV_EOF) {
        CHECK(shutdown(r->peer, SHUT_WR) == 0);
        r->eof_sent = r->m.eof = true;
        return;
    }
    CHECK(write(r->peer, e->data, e->len) == (ssize_t)e->len);
    char *grown = realloc(r->m.buf, r->m.len + e->len);
    CHECK(grown);
    memcpy(grown + r->m.len, e->data, e->len);
    r->m.buf = grown;
    r->m.len += e->len;
}

static size_t unread(const struct run *r)
{
    int n = 0;
    CHECK(ioctl(cio_stream_fd(r->s), FIONREAD, &n) == 0);
    return (size_t)n;
}

/* Yield until the call has finished (true) or waits for bytes that have
 * not been sent (false). */
static bool settle(const struct run *r, cio_task *t, const struct call *k)
{
    for (int spins = 0; spins < 100000; spins++) {
        if (cio_task_done(t))
            return true;
        if (k->started && !r->eof_sent && unread(r) == 0)
            return false;
        CHECK(cio_yield() == 0);
    }
    CHECK(!"a reader call neither finished nor waited");
    return false;
}

static void compare(struct run *r, const struct op *op, const struct call *k, const expect *e)
{
    model *m = &r->m;
    if (op->kind == OP_READ && e->rc > 0) {
        /* Any non-empty prefix of what may be returned. */
        CHECK(k->rc >= 1 && k->rc <= e->rc);
        CHECK(memcmp(k->out, m->buf, (size_t)k->rc) == 0);
        model_consume(m, (size_t)k->rc);
        return;
    }
    CHECK(k->rc == e->rc);
    if (e->rc == CIO_ELIMIT)
        CHECK(k->consumed > m->limit && k->consumed <= e->lim_bound);
    if (e->rc == CIO_EBUFSIZE)
        CHECK(k->needed == e->needed);
    if (e->rc == CIO_EINCOMPLETE && op->kind == OP_READEXACTLY)
        CHECK(k->partial == e->partial);
    size_t returned = e->rc > 0 ? (size_t)e->rc : e->partial;
    if (returned)
        CHECK(memcmp(k->out, m->buf, returned) == 0);
    model_consume(m, e->consume);
}

static void run_call(struct run *r, const struct event *ev)
{
    struct call k = {.s = r->s, .op = &ev->op};
    cio_task *t;
    expect e;
    CHECK(cio_spawn(&t, call_task, &k, NULL) == 0);
    bool done;
    while (!(done = settle(r, t, &k))) {
        CHECK(!model_eval(&r->m, &ev->op, &e)); /* the model would have finished */
        const struct event *next = r->next < r->sc->nev ? &r->sc->ev[r->next] : NULL;
        if (ev->mode != PATIENT || !next || next->kind == EV_OP || r->eof_sent)
            break;
        deliver(r, next);
        r->next++;
    }
    if (done) {
        CHECK(model_eval(&r->m, &ev->op, &e));
    } else {
        /* Interrupt the waiting call: it must fail having consumed nothing
         * (the readline resynchronisation aside, which model_eval did). */
        if (ev->mode == TIMEOUT)
            cio_timeout_reschedule(k.scope, 0);
        else
            cio_cancel(t);
        e = (expect){.rc = ev->mode == TIMEOUT ? -ETIMEDOUT : -ECANCELED};
    }
    CHECK(cio_join(t, NULL) == 0);
    compare(r, &ev->op, &k, &e);
    free(k.out);
    CHECK(cio_stream_buffered(r->s) <= r->m.len);
    if (cio_at_eof(r->s))
        CHECK(r->m.eof && r->m.len == 0);
}

static intptr_t fuzz_main(void *arg)
{
    const struct script *sc = arg;
    struct run r = {.sc = sc, .m = {.limit = sc->limit}};
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    cio_stream_opts o = CIO_STREAM_OPTS_INIT;
    o.limit = (ssize_t)sc->limit;
    CHECK(cio_stream_from_fd(&r.s, sv[0], &o) == 0);
    r.peer = sv[1];
    while (r.next < sc->nev) {
        const struct event *ev = &sc->ev[r.next++];
        if (ev->kind == EV_OP)
            run_call(&r, ev);
        else
            deliver(&r, ev);
    }
    /* What is left must be exactly the model's remainder.  (Read in
     * small pieces: read_all's 256 KiB buffer would cost more than the
     * rest of a typical input.) */
    static const struct event eof = {.kind = EV_EOF};
    static const struct event rest = {
        .kind = EV_OP, .mode = PATIENT, .op = {.kind = OP_READ, .n = 4096}};
    deliver(&r, &eof);
    while (!cio_at_eof(r.s))
        run_call(&r, &rest);
    CHECK(r.m.len == 0);
    cio_stream_release(r.s);
    close(sv[1]);
    free(r.m.buf);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct script sc;
    if (!decode(data, size, &sc))
        return 0;
    CHECK(fuzz_loop_run(fuzz_main, &sc) == 0);
    free(sc.ev);
    return 0;
}
