/* Tutorial step 2: the first echo server (docs/tutorial.md). */
#include <cio.h>
#include <stdio.h>

/* async def echo(reader, writer): one task per connection. */
static void echo(cio_stream *s, void *arg)
{
    (void)arg;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char peer[64] = "?";
    if (cio_stream_peername(s, (struct sockaddr *)&ss, &len) == 0)
        cio_addr_format((struct sockaddr *)&ss, len, peer, sizeof peer);
    printf("connection from %s\n", peer);

    char buf[4096];
    ssize_t n;
    while ((n = cio_read(s, buf, sizeof buf)) > 0) { /* 0: EOF */
        int rc = cio_write(s, buf, (size_t)n);
        if (rc == 0)
            rc = cio_drain(s);
        if (rc < 0) {
            n = rc;
            break;
        }
    }
    printf("%s: %s\n", peer, n == 0 ? "closed" : cio_strerror((int)n));
} /* returning ends the connection: the server closes the stream */

static intptr_t serve(void *arg)
{
    (void)arg;
    cio_server *srv;
    int rc = cio_start_server(&srv, echo, NULL, "127.0.0.1", 8888, NULL);
    if (rc < 0) {
        fprintf(stderr, "start_server: %s\n", cio_strerror(rc));
        return 1;
    }
    printf("listening on 127.0.0.1:%u\n", cio_server_port(srv));
    rc = cio_server_serve_forever(srv); /* until the server is closed */
    cio_server_free(srv);
    return rc < 0 ? 1 : 0;
}

int main(void)
{
    intptr_t rc = cio_run(serve, NULL);
    if (rc < 0)
        fprintf(stderr, "step2: %s\n", cio_strerror((int)rc));
    return rc == 0 ? 0 : 1;
}
