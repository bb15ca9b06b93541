/* timeouts: asyncio.wait_for and asyncio.timeout around connect and read,
 * and what TimeoutError becomes in C.
 *
 * The asyncio program it mirrors:
 *
 *     try:
 *         await asyncio.wait_for(asyncio.open_connection(host, port), 0.5)
 *     except TimeoutError:
 *         print("connect: TimeoutError")
 *
 *     reader, writer = await asyncio.open_connection(host, slow_port)
 *     try:
 *         async with asyncio.timeout(0.5):
 *             line = await reader.readline()
 *     except TimeoutError:
 *         print("readline: TimeoutError")
 *     async with asyncio.timeout(5):
 *         line = await reader.readline()   # cio: nothing was lost
 *
 *     async with asyncio.timeout(0.5) as whole:      # a deadline for it all
 *         async with asyncio.timeout(5):             # and one per step
 *             ...
 *
 * What it shows, against two peers it makes itself on 127.0.0.1:
 *  1. cio_wait_for on a connecting task (asyncio.wait_for): a listener
 *     that never accepts takes one connection into its backlog, then the
 *     kernel drops further SYNs, so the next connect hangs until the
 *     timeout cancels the task.  TimeoutError is -ETIMEDOUT.
 *  2. A timeout scope around readline (asyncio.timeout) against a server
 *     that answers after --delay: the read fails with -ETIMEDOUT, having
 *     consumed nothing, and the stream is still good: a second readline
 *     with more time gets the line (asyncio gives no such promise).
 *  3. Nested scopes: whichever deadline comes first interrupts the call,
 *     and cio_timeout_exit says whose it was (asyncio raises TimeoutError
 *     from the scope that expired).
 *
 * Try it:  ./timeouts --timeout 0.2 --delay 0.5 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "common.h"

static struct {
    double timeout, delay;
} cfg = {0.5, 1.0};

/* ---- 1. wait_for around connect -------------------------------------------- */

struct connect_args {
    uint16_t port;
    cio_stream *s;
};

static intptr_t connect_task(void *arg)
{
    struct connect_args *c = arg;
    return cio_open_connection(&c->s, "127.0.0.1", c->port, NULL);
}

/* asyncio.wait_for(open_connection(...), timeout): 0 with *out set, or an
 * error; -ETIMEDOUT when the deadline cancelled the connect. */
static int connect_wait_for(uint16_t port, double timeout, cio_stream **out)
{
    struct connect_args c = {port, NULL};
    cio_task *t;
    int rc = cio_spawn(&t, connect_task, &c, NULL);
    if (rc)
        return rc;
    intptr_t result;
    rc = cio_wait_for(t, timeout, &result);
    if (rc == 0)
        rc = (int)result; /* the task's own outcome */
    *out = c.s;
    return rc;
}

/* A listening socket that never accepts, with the smallest backlog. */
static int black_hole(uint16_t *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, len) < 0 || listen(fd, 0) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        int err = -errno;
        if (fd >= 0)
            close(fd);
        return err;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static int demo_connect(void)
{
    enum { TRIES = 4 };
    uint16_t port = 0;
    int fd = black_hole(&port);
    if (fd < 0)
        return ex_fail("listen", fd);
    cio_stream *held[TRIES];
    int n = 0, rc = 0;
    while (n < TRIES) {
        double t0 = cio_time();
        rc = connect_wait_for(port, cfg.timeout, &held[n]);
        if (rc) {
            printf("step 1: connect #%d: wait_for(open_connection, %g): %s after %.2f s\n", n + 1,
                   cfg.timeout, rc == -ETIMEDOUT ? "TimeoutError" : cio_strerror(rc),
                   cio_time() - t0);
            break;
        }
        printf("step 1: connect #%d: connected (nobody accepts: it waits in the backlog)\n", ++n);
    }
    for (int i = 0; i < n; i++) {
        cio_abort(held[i]); /* nothing to say to a server that never accepts */
        cio_stream_release(held[i]);
    }
    close(fd);
    if (rc == -ETIMEDOUT)
        return 0;
    if (rc == 0)
        fprintf(stderr, "%s: the listener's backlog never filled up\n", ex_prog);
    return rc ? ex_fail("connect", rc) : 1;
}

/* ---- 2 and 3. timeout scopes around readline --------------------------------- */

/* The slow peer: answers "hello" after --delay seconds. */
static void slow_hello(cio_stream *s, void *arg)
{
    (void)arg;
    if (cio_sleep(cfg.delay) == 0 && cio_write(s, "hello\n", 6) == 0)
        cio_drain(s);
}

/* readline inside a timeout scope of `seconds`; prints what happened.
 * Returns the readline result. */
static ssize_t readline_within(cio_stream *s, double seconds, const char *label)
{
    char line[64];
    double t0 = cio_time();
    cio_timeout scope;
    cio_timeout_enter(&scope, seconds);
    ssize_t n = cio_readline(s, line, sizeof(line));
    bool mine = cio_timeout_exit(&scope); /* true if this scope's deadline struck */
    printf("%s: readline within %g s: ", label, seconds);
    if (n > 0)
        printf("\"%.*s\" after %.2f s\n", (int)n - 1, line, cio_time() - t0);
    else if (n == -ETIMEDOUT)
        printf("TimeoutError after %.2f s, from %s scope; nothing consumed\n", cio_time() - t0,
               mine ? "this" : "an outer");
    else
        printf("%s\n", n ? cio_strerror((int)n) : "EOF");
    return n;
}

static int demo_read(uint16_t port)
{
    cio_stream *s;
    int rc = cio_open_connection(&s, "127.0.0.1", port, NULL);
    if (rc)
        return ex_fail("connect", rc);
    /* Too short: times out.  Then long enough: the line was not lost. */
    ssize_t first = readline_within(s, cfg.timeout, "step 2");
    ssize_t second = readline_within(s, cfg.delay * 4, "step 2");
    cio_close(s);
    cio_wait_closed(s);
    cio_stream_release(s);
    return first == -ETIMEDOUT && second > 0 ? 0 : 1;
}

static int demo_nested(uint16_t port)
{
    cio_stream *s;
    /* One deadline for the whole exchange, connect included ... */
    cio_timeout whole;
    cio_timeout_enter(&whole, cfg.timeout);
    int rc = cio_open_connection(&s, "127.0.0.1", port, NULL);
    ssize_t n = rc;
    if (rc == 0) {
        /* ... and a generous one per read: the outer one strikes first. */
        n = readline_within(s, cfg.delay * 4, "step 3");
        cio_abort(s); /* the exchange is over; do not wait for the peer */
        cio_stream_release(s);
    }
    bool expired = cio_timeout_exit(&whole);
    printf("step 3: the whole exchange %s its %g s deadline\n", expired ? "overran" : "met",
           cfg.timeout);
    if (rc)
        return ex_fail("connect", rc);
    return n == -ETIMEDOUT && expired ? 0 : 1;
}

static intptr_t timeouts(void *arg)
{
    (void)arg;
    int status = demo_connect();
    if (status)
        return status;
    cio_server *srv;
    int rc = cio_start_server(&srv, slow_hello, NULL, "127.0.0.1", 0, NULL);
    if (rc)
        return ex_fail("start_server", rc);
    status = demo_read(cio_server_port(srv));
    if (status == 0)
        status = demo_nested(cio_server_port(srv));
    /* The slow handlers may still be sleeping: end them, do not wait. */
    cio_server_shutdown(srv, 0);
    cio_server_free(srv);
    return status;
}

int main(int argc, char **argv)
{
    const ex_opt opts[] = {
        {"--timeout", "SECONDS", EX_SECONDS, &cfg.timeout, "the short timeouts (default 0.5)"},
        {"--delay", "SECONDS", EX_SECONDS, &cfg.delay,
         "the slow server answers after this long (default 1)"},
        {NULL, NULL, 0, NULL, NULL},
    };
    ex_parse_options(argc, argv,
                     "Demonstrates wait_for and timeout scopes around connect and readline,\n"
                     "against a listener that never accepts and a server that answers late.",
                     opts);
    if (cfg.delay <= cfg.timeout)
        ex_bad_usage("%s", "--delay must be longer than --timeout");
    return ex_run(timeouts);
}
