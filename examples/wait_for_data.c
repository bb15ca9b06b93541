/* wait_for_data: one end of a socketpair adopted as a stream, waiting
 * for data that arrives from the other end.
 *
 * The asyncio program it mirrors (the docs' "Register an open socket to
 * wait for data using streams"):
 *
 *     async def wait_for_data():
 *         loop = asyncio.get_running_loop()
 *         rsock, wsock = socket.socketpair()
 *         reader, writer = await asyncio.open_connection(sock=rsock)
 *         loop.call_soon(wsock.send, "abc".encode())
 *         async with asyncio.timeout(5):
 *             data = await reader.read(100)
 *         print("Received:", data.decode())
 *         writer.close()
 *         await writer.wait_closed()
 *         wsock.close()
 *
 * What it shows:
 *  - cio_stream_from_fd: any connected socket becomes a stream (asyncio's
 *    open_connection(sock=...)); the stream owns the fd from then on.
 *  - The read suspends only this task until the other end writes; the
 *    write comes from another task, which runs in the meantime (the
 *    counterpart of loop.call_soon).
 *  - A timeout on the wait, so a peer that never writes cannot hang us.
 *
 * Try it:  ./wait_for_data --message hello */
#include <sys/socket.h>

#include "common.h"

static struct {
    const char *message;
    double timeout;
} cfg = {"abc", 5.0};

/* The other end: one send on the plain socket, like wsock.send(). */
static intptr_t send_message(void *arg)
{
    int wsock = *(int *)arg;
    ssize_t n = send(wsock, cfg.message, strlen(cfg.message), MSG_NOSIGNAL);
    if (n < 0)
        return ex_fail("send", -errno);
    return 0;
}

static intptr_t wait_for_data(void *arg)
{
    (void)arg;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return ex_fail("socketpair", -errno);
    int wsock = sv[1];
    cio_stream *reader;
    int rc = cio_stream_from_fd(&reader, sv[0], NULL);
    if (rc) {
        close(wsock);
        return ex_fail("stream_from_fd", rc);
    }

    cio_task *sender;
    rc = cio_spawn(&sender, send_message, &wsock, NULL);
    int status = rc ? ex_fail("spawn", rc) : 0;
    if (status == 0) {
        char data[100];
        cio_timeout scope;
        cio_timeout_enter(&scope, cfg.timeout);
        ssize_t n = cio_read(reader, data, sizeof(data));
        cio_timeout_exit(&scope);
        if (n > 0)
            printf("Received: %.*s\n", (int)n, data);
        else if (n == 0)
            fprintf(stderr, "%s: read: the other end closed without sending\n", ex_prog);
        else
            ex_fail("read", (int)n);
        status = n > 0 ? 0 : 1;
        intptr_t sent;
        if (cio_join(sender, &sent) == 0 && sent != 0)
            status = 1;
    }

    cio_close(reader);
    cio_wait_closed(reader);
    cio_stream_release(reader);
    close(wsock);
    return status;
}

int main(int argc, char **argv)
{
    const ex_opt opts[] = {
        {"--message", "TEXT", EX_STR, &cfg.message, "what the other end sends (default abc)"},
        {"--timeout", "SECONDS", EX_SECONDS, &cfg.timeout, "give up after this long (default 5)"},
        {NULL, NULL, 0, NULL, NULL},
    };
    ex_parse_options(argc, argv,
                     "Makes a socketpair, adopts one end as a cio stream and waits for the\n"
                     "message another task sends from the other end.",
                     opts);
    if (!*cfg.message)
        ex_bad_usage("%s", "--message must not be empty");
    return ex_run(wait_for_data);
}
