/* Connecting sockets: Happy Eyeballs (RFC 8305) over a resolved address
 * list, and Unix sockets.  The stream layer's cio_open_connection and
 * cio_open_unix_connection (stream/open.c) are built on these.
 *
 * Happy Eyeballs runs each connection attempt as a child task of the
 * caller, sharing a state struct on the caller's stack; the caller starts
 * the next attempt when the previous one fails or the stagger delay
 * elapses, and wakes on a cio_event that every finishing attempt sets.
 * Because the children point into the caller's stack, every exit path
 * (success, all failed, the caller cancelled or timed out) cancels and
 * joins all of them first.  With one address, or the stagger disabled,
 * the attempts run one by one in the caller itself: no task needed. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "net/net.h"

/* ---- one attempt --------------------------------------------------------- */

static int bind_local(int fd, int family, const cio__addr *local, size_t n_local)
{
    int err = -EADDRNOTAVAIL; /* no local address of this family */
    for (size_t i = 0; i < n_local; i++) {
        if (local[i].family != family)
            continue;
        if (cio__bind(fd, (const struct sockaddr *)&local[i].sa, local[i].len) == 0)
            return 0;
        err = cio__err();
    }
    return err;
}

/* Connect a non-blocking socket: a connect operation of the backend,
 * which waits for the outcome.  0 or the error; fd stays the caller's. */
static int connect_fd(int fd, const struct sockaddr *sa, socklen_t len)
{
    cio__io io;
    int rc = cio__io_open(&io, fd);
    if (rc)
        return rc;
    cio__op op = {.kind = CIO__OP_CONNECT, .u.connect = {.addr = sa, .len = len}};
    rc = (int)cio__io_run(&io, &op);
    cio__io_close(&io);
    return rc;
}

/* Connect to one address; 0 with *fd_out set, or the error (interrupts
 * included) with no fd left open. */
static int connect_one(const cio__addr *a, const cio__addr *local, size_t n_local, int *fd_out)
{
    int fd = cio__socket_for(a->family, SOCK_STREAM);
    if (fd < 0)
        return fd;
    int rc = 0;
    if (n_local)
        rc = bind_local(fd, a->family, local, n_local);
    if (rc == 0)
        rc = connect_fd(fd, (const struct sockaddr *)&a->sa, a->len);
    if (rc) {
        cio__close(fd);
        return rc;
    }
    *fd_out = fd;
    return 0;
}

/* ---- Happy Eyeballs ------------------------------------------------------- */

struct he_state;

struct he_attempt {
    struct he_state *st;
    size_t idx;
    cio_task *task;
    int err;
    bool done;
};

struct he_state {
    const cio__addr *addrs;
    const cio__addr *local;
    size_t n_local;
    struct he_attempt *att;
    cio_event changed; /* set by every attempt that finishes */
    size_t started;
    int winner; /* index of the winning attempt, or -1 */
    int winner_fd;
};

static intptr_t attempt_main(void *arg)
{
    struct he_attempt *a = arg;
    struct he_state *st = a->st;
    int fd = -1;
    int rc = connect_one(&st->addrs[a->idx], st->local, st->n_local, &fd);
    if (rc == 0) {
        if (st->winner < 0) {
            st->winner = (int)a->idx;
            st->winner_fd = fd;
        } else {
            cio__close(fd); /* lost the race to another attempt */
        }
    }
    a->err = rc;
    a->done = true;
    cio_event_set(&st->changed);
    return rc;
}

static int start_attempt(struct he_state *st)
{
    struct he_attempt *a = &st->att[st->started];
    a->st = st;
    a->idx = st->started;
    int rc = cio_spawn(&a->task, attempt_main, a, &(cio_task_opts){.name = "cio-connect"});
    if (rc)
        return rc;
    st->started++;
    return 0;
}

/* Wait for an attempt to finish, at most until `deadline` (monotonic ns;
 * INT64_MAX: no bound).  Returns 0 on a change, 1 when the stagger
 * elapsed first, or the caller's interrupt. */
static int wait_change(struct he_state *st, int64_t deadline)
{
    if (deadline == INT64_MAX)
        return cio_event_wait(&st->changed);
    int64_t left = deadline - cio__clock_ns();
    int rc = cio__interrupted(cio__current());
    if (rc || left <= 0)
        return rc ? rc : 1;
    cio_timeout stagger;
    cio_timeout_enter(&stagger, (double)left / 1e9);
    rc = cio_event_wait(&st->changed);
    bool elapsed = cio_timeout_exit(&stagger);
    if (rc == -ETIMEDOUT && elapsed) {
        /* Ours, unless an outer scope or a cancellation hit as well. */
        rc = cio__interrupted(cio__current());
        return rc ? rc : 1;
    }
    return rc;
}

/* Run the race until a winner, all attempts failed (0 either way), or an
 * error of the caller's (interrupt, no memory for a task). */
static int race(size_t n, double delay, struct he_state *st)
{
    int64_t stagger = delay * 1e9 < 9e18 ? (int64_t)(delay * 1e9) : INT64_MAX;
    int64_t last_start = 0;
    bool start_now = true;
    for (;;) {
        if (st->winner >= 0)
            return 0;
        cio_event_clear(&st->changed);
        bool more = st->started < n;
        /* Start the next attempt when the previous one failed or its
         * stagger delay elapsed. */
        if (more && (start_now || st->att[st->started - 1].done)) {
            int rc = start_attempt(st);
            if (rc)
                return rc;
            last_start = cio__clock_ns();
            start_now = false;
            continue;
        }
        size_t finished = 0;
        for (size_t i = 0; i < st->started; i++)
            finished += st->att[i].done;
        if (!more && finished == n)
            return 0; /* all failed */
        int64_t deadline =
            more && stagger < INT64_MAX - last_start ? last_start + stagger : INT64_MAX;
        int rc = wait_change(st, deadline);
        if (rc < 0)
            return rc;
        start_now = rc == 1;
    }
}

static int connect_staggered(const cio__addr *addrs, size_t n, double delay, const cio__addr *local,
                             size_t n_local, cio__connect_result *res)
{
    struct he_state st = {
        .addrs = addrs,
        .local = local,
        .n_local = n_local,
        .winner = -1,
        .winner_fd = -1,
    };
    st.att = cio__calloc(n, sizeof(*st.att));
    if (!st.att)
        return -ENOMEM;
    int rc = race(n, delay, &st);

    /* Every child points into st: cancel the unfinished ones and reap all.
     * A loser that connects anyway sees the winner and closes its fd.  The
     * outcome was decided before reaping: if the caller is interrupted
     * meanwhile, cio_join still reaps (shielded) and the interrupt is left
     * for the caller's next blocking call, as with any call that had
     * already succeeded. */
    for (size_t i = 0; i < st.started; i++)
        if (!st.att[i].done)
            cio_cancel(st.att[i].task);
    for (size_t i = 0; i < st.started; i++)
        (void)cio_join(st.att[i].task, NULL);

    if (rc == 0 && st.winner < 0)
        rc = st.att[0].err; /* all failed: the first address's error */
    if (rc == 0) {
        res->fd = st.winner_fd;
        res->winner = (size_t)st.winner;
        res->family = addrs[st.winner].family;
    } else if (st.winner_fd >= 0) {
        cio__close(st.winner_fd); /* interrupted after all: no effect */
    }
    if (res->errs)
        for (size_t i = 0; i < st.started; i++)
            res->errs[i] = st.att[i].err;
    cio__free(st.att);
    return rc;
}

static int connect_sequential(const cio__addr *addrs, size_t n, const cio__addr *local,
                              size_t n_local, cio__connect_result *res)
{
    int first_err = 0;
    for (size_t i = 0; i < n; i++) {
        int fd = -1;
        int rc = connect_one(&addrs[i], local, n_local, &fd);
        if (rc == 0) {
            res->fd = fd;
            res->winner = i;
            res->family = addrs[i].family;
            return 0;
        }
        if (res->errs)
            res->errs[i] = rc;
        if (!first_err)
            first_err = rc;
        int irc = cio__interrupted(cio__current());
        if (irc)
            return irc;
    }
    return first_err ? first_err : -EINVAL;
}

int cio__connect_addrs(const cio__addr *addrs, size_t n, double delay, const cio__addr *local,
                       size_t n_local, cio__connect_result *res)
{
    if (!addrs || !n || !res || isnan(delay))
        return -EINVAL;
    res->fd = -1;
    int rc = cio__interrupted(cio__current());
    if (rc)
        return rc;
    if (n == 1 || !(delay > 0))
        return connect_sequential(addrs, n, local, n_local, res);
    return connect_staggered(addrs, n, delay, local, n_local, res);
}

void cio__addrs_interleave(cio__addr *a, size_t n)
{
    /* Each position takes the next address of the other family, keeping
     * the order within a family; once one family runs out the rest follow
     * as they are.  Lists are short, so rotating in place is fine. */
    for (size_t i = 1; i < n; i++) {
        size_t j = i;
        while (j < n && a[j].family == a[i - 1].family)
            j++;
        if (j == n)
            return;
        if (j != i) {
            cio__addr moved = a[j];
            memmove(&a[i + 1], &a[i], (j - i) * sizeof(*a));
            a[i] = moved;
        }
    }
}

/* ---- Unix sockets ---------------------------------------------------------- */

/* A Unix connect that finds the listener's backlog full fails with EAGAIN
 * instead of waiting (Linux): retry with a growing pause, bounded by the
 * caller's timeouts like any blocking call. */
int cio__connect_unix(int fd, const struct sockaddr_un *sa, socklen_t len)
{
    double pause = 0.001;
    for (;;) {
        int rc = connect_fd(fd, (const struct sockaddr *)sa, len);
        if (rc != -EAGAIN)
            return rc;
        rc = cio_sleep(pause);
        if (rc)
            return rc;
        if (pause < 0.05)
            pause *= 2;
    }
}
