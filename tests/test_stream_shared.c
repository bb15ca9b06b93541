/* One connection's stream used by another task across a suspension, as a
 * chat server's broadcaster does (docs/streams.md, "Using another
 * connection's stream").  The "owner" task plays the handler: it reads
 * until EOF and then drops its reference, as the server does when a
 * handler returns.  The "holder" is the other task; it holds its own
 * reference (cio_stream_retain), so the handle stays valid whatever the
 * owner does, and every call on it returns a defined result. */
#include <criterion/criterion.h>

#include "stream_helpers.h"

TestSuite(shared);

/* The handler of a connection: read lines until EOF, then release. */
static intptr_t owner_main(void *arg)
{
    cio_stream *s = arg;
    char line[64];
    ssize_t n;
    while ((n = cio_readline(s, line, sizeof(line))) > 0)
        ;
    cio_stream_release(s);
    return n;
}

/* The owner is gone (its client sent EOF, the handler returned and
 * released its reference); the holder's reference keeps the stream open
 * and writable, and its release closes it gracefully. */
STREAM_TEST(shared, holder_keeps_the_stream_after_its_owner_is_gone)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    cio_stream_retain(s); /* the holder's reference */
    cio_task *owner = t_spawn(owner_main, s);
    fd_write_str(peer, "hello\n");
    cr_assert_eq(shutdown(peer, SHUT_WR), 0);
    cr_assert_eq(t_join(owner), 0);

    cr_assert(!cio_is_closing(s), "the owner's release closed a stream another task holds");
    cr_assert_eq(cio_write(s, "late\n", 5), 0);
    cr_assert_eq(cio_drain(s), 0);
    char buf[8];
    fd_read_exact(peer, buf, 5);
    cr_assert(memcmp(buf, "late\n", 5) == 0);

    cio_stream_release(s); /* the last reference: a graceful close */
    char *rest;
    cr_assert_eq(cio_wait_readable(peer), 0);
    cr_assert_eq(fd_read_to_eof(peer, &rest), 0, "bytes after the close");
    free(rest);
    close(peer);
    return 0;
}

struct holder {
    cio_stream *s;
    int drain_rc;
    int write_rc;
};

/* Queue more than the high water mark (64 KiB) and drain: the peer does
 * not read, so the drain waits until something else ends it. */
static intptr_t holder_main(void *arg)
{
    struct holder *h = arg;
    enum { MiB = 1 << 20 };
    char *data = pattern_new(MiB, 3);
    for (int i = 0; i < 64 && cio_write_buffer_size(h->s) <= 65536; i++)
        cr_assert_eq(cio_write(h->s, data, MiB), 0);
    cr_assert_gt(cio_write_buffer_size(h->s), 65536);
    free(data);
    h->drain_rc = cio_drain(h->s);
    h->write_rc = cio_write(h->s, "x", 1);
    cio_stream_release(h->s);
    return 0;
}

/* The owner aborts its connection (cio_abort, or the server's
 * abort_clients) and releases while the holder waits in cio_drain: the
 * drain returns -ECONNABORTED at once, later writes fail, and the
 * holder's release frees the stream (ASan checks nothing touches it
 * after). */
STREAM_TEST(shared, owner_aborts_while_the_holder_drains)
{
    int peer;
    cio_stream *s = raw_pair(&peer, NULL);
    struct holder h = {.s = s};
    cio_stream_retain(s);
    cio_task *t = t_spawn(holder_main, &h);
    YIELD_UNTIL(drainer_count(s) == 1);
    cio_abort(s);
    cio_stream_release(s);
    cr_assert_eq(t_join(t), 0);
    cr_assert_eq(h.drain_rc, -ECONNABORTED, "drain: %s", cio_err_name(h.drain_rc));
    cr_assert_lt(h.write_rc, 0, "a write after the abort succeeded");
    close(peer);
    return 0;
}

/* The peer resets while the holder waits in cio_drain: the loss error,
 * promptly, to the holder; the owner's read sees it too. */
STREAM_TEST(shared, peer_reset_reaches_the_holder_and_the_owner)
{
    int client, server;
    tcp_pair(&client, &server);
    cio_stream *s = stream_on(server, NULL);
    struct holder h = {.s = s};
    cio_stream_retain(s);
    cio_task *owner = t_spawn(owner_main, s);
    cio_task *t = t_spawn(holder_main, &h);
    YIELD_UNTIL(drainer_count(s) == 1);
    fd_rst_close(client);
    intptr_t owner_rc = t_join(owner);
    cr_assert_eq(t_join(t), 0);
    cr_assert(h.drain_rc == -ECONNRESET || h.drain_rc == -EPIPE, "drain: %s",
              cio_err_name(h.drain_rc));
    cr_assert_eq(h.write_rc, h.drain_rc, "write: %s", cio_err_name(h.write_rc));
    cr_assert_eq(owner_rc, h.drain_rc, "owner's readline: %s", cio_err_name((int)owner_rc));
    return 0;
}
