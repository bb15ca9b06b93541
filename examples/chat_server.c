/* chat_server: a broadcast chat where one slow or dead client can neither
 * block nor crash the others.  Works with plain `nc` clients.
 *
 * The asyncio program it mirrors, and the flaw it fixes:
 *
 *     clients = set()
 *
 *     async def handle(reader, writer):
 *         clients.add(writer)
 *         try:
 *             async for line in reader:
 *                 for w in clients:
 *                     if w is not writer:
 *                         w.write(line)
 *                         await w.drain()   # waits for the slowest reader
 *         finally:
 *             clients.discard(writer)
 *             writer.close()
 *             await writer.wait_closed()
 *
 * Draining every client in the sender's loop means one client that stops
 * reading stalls everybody who talks (and without the drain, its buffer
 * grows without bound).  The fix, as the asyncio advice goes: give each
 * client a bounded queue and a writer task of its own.
 *
 *  - Broadcasting puts the message in every other client's outbox (a
 *    cio_queue of at most --max-queue messages) without waiting.  A full
 *    outbox means that client cannot keep up: it is disconnected.
 *  - Each client's writer task writes and drains one message at a time,
 *    within --drain-timeout; a client that stops reading for that long is
 *    disconnected.
 *  - A client that vanishes (reset, crash) only ends its own two tasks:
 *    cio never raises SIGPIPE, every failure is a return code.
 *  - Shutdown on SIGINT/SIGTERM: everyone is told, each writer flushes its
 *    outbox (within the drain timeout) and closes its connection, which
 *    ends the client's reader; the handlers get --grace seconds in all.
 *
 * Protocol: lines of text.  Each client is called guestN; what it sends
 * goes to the others as "guestN: text"; the server's notices start with
 * "* ".  With --tls-cert/--tls-key it speaks TLS (openssl s_client).
 *
 * Try it:  ./chat_server --port 8888 &   then, in two terminals,
 *          nc 127.0.0.1 8888 */
#include "common.h"

static struct {
    const char *host, *tls_cert, *tls_key;
    uint16_t port;
    long max_queue, max_line;
    double drain_timeout, grace;
} cfg = {"127.0.0.1", NULL, NULL, 0, 100, 4096, 10.0, 5.0};

/* A message, shared by every outbox it is in; the last holder frees it. */
struct msg {
    unsigned refs;
    size_t len;
    char text[];
};

struct client {
    struct client *prev, *next; /* in the room; NULL once out of it */
    cio_stream *s;
    cio_queue outbox; /* struct msg *, at most --max-queue */
    cio_task *writer;
    const char *dropped; /* why the server disconnected it, if it did */
    char name[24];
};

/* Everyone connected: a circular list around a dummy head. */
static struct client room = {.prev = &room, .next = &room};
static unsigned long guests; /* names handed out so far */
static size_t online;

static struct msg *msg_new(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static struct msg *msg_new(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    struct msg *m = n < 0 ? NULL : malloc(sizeof(*m) + (size_t)n + 1);
    if (!m)
        return NULL; /* the message is lost, nothing else */
    va_start(ap, fmt);
    vsnprintf(m->text, (size_t)n + 1, fmt, ap);
    va_end(ap);
    m->refs = 1;
    m->len = (size_t)n;
    return m;
}

static void msg_unref(struct msg *m)
{
    if (--m->refs == 0)
        free(m);
}

static void join_room(struct client *c)
{
    c->prev = room.prev;
    c->next = &room;
    room.prev->next = c;
    room.prev = c;
    online++;
}

static void leave_room(struct client *c)
{
    if (!c->next)
        return;
    c->prev->next = c->next;
    c->next->prev = c->prev;
    c->prev = c->next = NULL;
    online--;
}

/* Disconnect a client that cannot keep up: out of the room at once, so
 * nothing more is queued for it, and its connection aborted, which ends
 * its reader's readline and its writer's drain. */
static void drop(struct client *c, const char *why)
{
    if (c->dropped)
        return;
    c->dropped = why;
    leave_room(c);
    cio_abort(c->s);
}

/* Queue m for c, never waiting. */
static void deliver(struct client *c, struct msg *m)
{
    int rc = cio_queue_put_nowait(&c->outbox, m);
    if (rc == 0)
        m->refs++;
    else if (rc != CIO_EQUEUESHUTDOWN) /* full: it is not reading */
        drop(c, "outbox full");
}

/* Send m (which this call consumes) to c alone. */
static void tell(struct client *c, struct msg *m)
{
    if (!m)
        return;
    deliver(c, m);
    msg_unref(m);
}

/* Send m (consumed) to everyone in the room but `except` (may be NULL). */
static void broadcast(const struct client *except, struct msg *m)
{
    if (!m)
        return;
    for (struct client *c = room.next, *next; c != &room; c = next) {
        next = c->next; /* deliver may drop c from the room */
        if (c != except)
            deliver(c, m);
    }
    msg_unref(m);
}

/* One per client: moves its outbox to its socket at the pace the client
 * reads, so that a slow client makes only its own writer wait. */
static intptr_t writer_main(void *arg)
{
    struct client *c = arg;
    void *item;
    while (cio_queue_get(&c->outbox, &item) == 0) {
        struct msg *m = item;
        int rc = cio_write(c->s, m->text, m->len);
        if (rc == 0) {
            cio_timeout scope;
            cio_timeout_enter(&scope, cfg.drain_timeout);
            rc = cio_drain(c->s);
            if (cio_timeout_exit(&scope) && rc == -ETIMEDOUT)
                drop(c, "not reading");
        }
        msg_unref(m);
        /* Other errors mean the connection is gone: the reader sees that
         * too and ends the client; until then, messages are discarded. */
    }
    cio_close(c->s); /* the outbox was shut: flush and close */
    return 0;
}

static void handle_client(cio_stream *s, void *arg)
{
    (void)arg;
    struct client c = {.s = s};
    char peer[64];
    ex_peer(s, peer, sizeof(peer));
    snprintf(c.name, sizeof(c.name), "guest%lu", ++guests);
    cio_queue_init(&c.outbox, CIO_QUEUE_FIFO, (size_t)cfg.max_queue, NULL);
    int rc = cio_spawn(&c.writer, writer_main, &c, &(cio_task_opts){.name = c.name});
    if (rc) {
        printf("%s from %s: %s\n", c.name, peer, cio_strerror(rc));
        cio_queue_destroy(&c.outbox);
        return;
    }
    join_room(&c);
    printf("%s connected from %s\n", c.name, peer);
    tell(&c, msg_new("* welcome, %s; %zu online\n", c.name, online));
    broadcast(&c, msg_new("* %s joined\n", c.name));

    const char *line;
    ssize_t n;
    while ((n = cio_readline_view(s, &line)) != 0) {
        if (n == CIO_ELIMIT) { /* the rest of that line is skipped */
            tell(&c, msg_new("* line too long (max %ld bytes), not sent\n", cfg.max_line));
            continue;
        }
        if (n < 0)
            break;
        int len = (int)(line[n - 1] == '\n' ? n - 1 : n); /* the last may lack it */
        broadcast(&c, msg_new("%s: %.*s\n", c.name, len, line));
        /* Let the writers pass this line on before reading the next: a
         * client that sends fast is paced by the scheduler instead of
         * filling every outbox in one go. */
        if (cio_yield() != 0)
            break;
    }

    leave_room(&c);
    if (c.dropped)
        printf("%s dropped: %s\n", c.name, c.dropped);
    else
        printf("%s left%s%s\n", c.name, n ? ": " : "", n ? cio_strerror((int)n) : "");
    broadcast(NULL, msg_new("* %s %s\n", c.name, c.dropped ? "was dropped (too slow)" : "left"));
    /* The writer flushes what is queued, closes the stream and ends. */
    cio_queue_shutdown(&c.outbox, false);
    cio_join(c.writer, NULL);
    void *item;
    while (cio_queue_get_nowait(&c.outbox, &item) == 0) /* only if the writer was cancelled */
        msg_unref(item);
    cio_queue_destroy(&c.outbox);
}

/* After a signal closed the server: everyone is told, each writer flushes
 * its outbox and closes its connection, and the handlers get --grace
 * seconds in all. */
static void shut_down(cio_server *srv)
{
    broadcast(NULL, msg_new("* server shutting down\n"));
    for (struct client *c = room.next; c != &room; c = c->next)
        cio_queue_shutdown(&c->outbox, false);
    cio_server_shutdown(srv, cfg.grace);
}

static intptr_t serve(void *arg)
{
    (void)arg;
    cio_server_opts so = CIO_SERVER_OPTS_INIT;
    so.stream.limit = cfg.max_line;
    int rc = ex_server_tls(cfg.tls_cert, cfg.tls_key, &so.tls);
    if (rc)
        return rc;
    cio_server *srv;
    rc = cio_start_server(&srv, handle_client, NULL, cfg.host, cfg.port, &so);
    cio_tls_ctx_free(so.tls); /* the server holds its own reference */
    if (rc)
        return ex_fail("start_server", rc);
    return ex_serve_forever(srv, shut_down); /* until SIGINT/SIGTERM, then shut_down */
}

int main(int argc, char **argv)
{
    const ex_opt opts[] = {
        EX_OPTS_LISTEN(&cfg.host, &cfg.port),
        {"--max-queue", "N", EX_COUNT, &cfg.max_queue,
         "messages waiting for a client before it is dropped (default 100)"},
        {"--drain-timeout", "SECONDS", EX_SECONDS, &cfg.drain_timeout,
         "drop a client that reads nothing for this long (default 10)"},
        {"--max-line", "N", EX_COUNT, &cfg.max_line, "longest line accepted (default 4096)"},
        {"--grace", "SECONDS", EX_SECONDS, &cfg.grace,
         "on SIGINT/SIGTERM, let clients finish this long (default 5)"},
        EX_OPTS_TLS(&cfg.tls_cert, &cfg.tls_key, "TLS"),
        {NULL, NULL, 0, NULL, NULL},
    };
    ex_parse_options(argc, argv,
                     "Broadcast chat: every line a client sends goes to all the others.\n"
                     "Clients that cannot keep up are dropped; nobody else waits for them.",
                     opts);
    ex_block_signals();
    return ex_run(serve);
}
