/* Tutorial step 5: timeouts, wait_for, cancellation and shielded cleanup
 * (docs/tutorial.md).  It runs its own slow server on a free port. */
#include <cio.h>
#include <errno.h>
#include <stdio.h>

/* The slow server: "hel" at once, "lo\n" a second later, then "ok "
 * and each line it gets, until EOF. */
static void slow_hello(cio_stream *s, void *arg)
{
    (void)arg;
    char line[64];
    ssize_t n;
    if (cio_write(s, "hel", 3) < 0 || cio_drain(s) < 0 || cio_sleep(1.0) < 0 ||
        cio_write(s, "lo\n", 3) < 0 || cio_drain(s) < 0)
        return;
    while ((n = cio_readline(s, line, sizeof line)) > 0)
        if (cio_write(s, "ok ", 3) < 0 || cio_write(s, line, (size_t)n) < 0 || cio_drain(s) < 0)
            break;
}

/* 1. async with asyncio.timeout(0.3): line = await reader.readline() */
static int read_with_timeout(cio_stream *s)
{
    char line[64];
    cio_timeout t;
    cio_timeout_enter(&t, 0.3);
    ssize_t n = cio_readline(s, line, sizeof line);
    if (cio_timeout_exit(&t)) /* except TimeoutError: (n is -ETIMEDOUT) */
        printf("readline: timed out; %zu bytes kept for the next read\n", cio_stream_buffered(s));
    else if (n < 0)
        return (int)n;

    n = cio_readline(s, line, sizeof line); /* no deadline: waits for the rest */
    if (n < 0)
        return (int)n;
    printf("readline: %.*s", (int)n, line);
    return 0;
}

/* 2. await asyncio.wait_for(slow(), 0.2) */
static intptr_t slow(void *arg)
{
    (void)arg;
    return cio_sleep(10); /* -ECANCELED when wait_for gives up on it */
}

static int wait_for_slow(void)
{
    cio_task *t;
    intptr_t result;
    int rc = cio_spawn(&t, slow, NULL, NULL);
    if (rc < 0)
        return rc;
    rc = cio_wait_for(t, 0.2, &result); /* on timeout: cancels t, waits for it */
    if (rc != -ETIMEDOUT)
        return rc < 0 ? rc : -EPROTO; /* it cannot have finished in time */
    printf("wait_for: timed out, and the task was cancelled\n");
    return 0;
}

/* 3. A task that reads until cancelled, then says goodbye. */
static intptr_t reader(void *arg)
{
    cio_stream *s = arg;
    char line[64];
    ssize_t n;
    while ((n = cio_readline(s, line, sizeof line)) > 0)
        printf("reader: %.*s", (int)n, line);
    printf("reader: %s\n", cio_strerror((int)n)); /* cancelled */

    /* Cancellation is sticky: from now on every call that has to wait
     * fails with -ECANCELED at once.  A shielded scope lets cleanup wait
     * again, within its own deadline. */
    cio_timeout shield;
    cio_shield_enter(&shield, 1.0);
    ssize_t m = cio_write(s, "goodbye\n", 8);
    if (m == 0)
        m = cio_readline(s, line, sizeof line); /* wait for "ok goodbye" */
    cio_timeout_exit(&shield);
    if (m > 0)
        printf("reader: the server answered %.*s", (int)m, line);
    return n; /* -ECANCELED: the task's result says how it ended */
}

static intptr_t main_task(void *arg)
{
    (void)arg;
    cio_server *srv;
    int rc = cio_start_server(&srv, slow_hello, NULL, "127.0.0.1", 0, NULL);
    if (rc < 0) {
        fprintf(stderr, "start_server: %s\n", cio_strerror(rc));
        return 1;
    }
    cio_stream *s;
    rc = cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), NULL);
    if (rc < 0) {
        fprintf(stderr, "connect: %s\n", cio_strerror(rc));
        cio_server_free(srv);
        return 1;
    }
    cio_task *t;
    if ((rc = read_with_timeout(s)) == 0 && (rc = wait_for_slow()) == 0 &&
        (rc = cio_spawn(&t, reader, s, NULL)) == 0) {
        rc = cio_sleep(0.2); /* let the reader block in readline */
        cio_cancel(t);       /* task.cancel() */
        intptr_t result;
        if (cio_join(t, &result) == 0) /* await t: result is its return value */
            printf("joined; the reader returned %s\n", cio_err_name((int)result));
    }
    if (rc < 0)
        fprintf(stderr, "step5: %s\n", cio_strerror(rc));
    cio_close(s);
    cio_wait_closed(s);
    cio_stream_release(s);
    cio_server_shutdown(srv, 1.0); /* the handler sees EOF and returns */
    cio_server_free(srv);
    return rc < 0;
}

int main(void)
{
    intptr_t rc = cio_run(main_task, NULL);
    if (rc < 0)
        fprintf(stderr, "step5: %s\n", cio_strerror((int)rc));
    return rc == 0 ? 0 : 1;
}
