/* Servers: cio_start_server / cio_start_unix_server over IPv4, IPv6, Unix
 * and abstract sockets; port reporting; handler lifetimes (return,
 * retain); close, wait_closed, serve_forever, close/abort_clients and
 * the bounded shutdown; stale socket files; accept under EMFILE without
 * spinning; 1,000 concurrent connections; socket options; fault
 * injection on bind, listen, allocation and accept.
 *
 * Clients are plain non-blocking sockets adopted with cio_stream_from_fd,
 * so these tests do not depend on connect.c.  Bodies run as tasks and
 * report failures by returning their line number (a fatal assertion would
 * longjmp off a task stack). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_helpers.h"
#include "fault.h"
#include "helpers.h"
#ifndef CIO_NO_TLS
#include "tls_certs.h"
#endif

TestSuite(server, .timeout = 60);

/* A test whose body runs as the main task, bounded by a 20 s scope;
 * STEST_IF skips it (reported as skipped) unless cond holds. */
#define STEST_IF(name, cond, ...) CHECK_TEST_IF(server, name, cond, ##__VA_ARGS__)
#define STEST(name, ...) STEST_IF(name, true, ##__VA_ARGS__)

/* ---- environment ---------------------------------------------------------------- */

static void unix_path(char *buf, size_t cap, const char *tag)
{
    snprintf(buf, cap, "/tmp/cio-srv-%d-%s.sock", (int)getpid(), tag);
    unlink(buf);
}

static bool file_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* ---- clients ---------------------------------------------------------------------- */

static int dial_sa(const struct sockaddr *sa, socklen_t len, cio_stream **out)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, sa, len) < 0) {
        int rc = -errno;
        if (rc == -EINPROGRESS) {
            rc = cio_wait_writable(fd);
            int err = 0;
            socklen_t el = sizeof(err);
            if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0)
                rc = -err;
        }
        if (rc) {
            close(fd);
            return rc;
        }
    }
    return cio_stream_from_fd(out, fd, NULL);
}

static int dial(const char *ip, uint16_t port, cio_stream **out)
{
    struct sockaddr_storage ss;
    socklen_t len = make_sa(strchr(ip, ':') ? AF_INET6 : AF_INET, ip, port, &ss);
    return dial_sa((struct sockaddr *)&ss, len, out);
}

static int dial_unix(const char *path, cio_stream **out)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    memcpy(sun.sun_path, path, n);
    if (path[0] == '@') {
        sun.sun_path[0] = '\0';
        len--;
    }
    return dial_sa((struct sockaddr *)&sun, len, out);
}

/* Send line, expect it echoed back. */
static int roundtrip(cio_stream *c, const char *line)
{
    size_t n = strlen(line);
    int rc = cio_write(c, line, n);
    if (rc == 0)
        rc = cio_drain(c);
    if (rc)
        return rc;
    char buf[256];
    ssize_t got = cio_readline(c, buf, sizeof(buf));
    if (got < 0)
        return (int)got;
    return (size_t)got == n && memcmp(buf, line, n) == 0 ? 0 : -EPROTO;
}

static void hangup(cio_stream *c)
{
    cio_close(c);
    cio_wait_closed(c);
    cio_stream_release(c);
}

/* ---- handlers --------------------------------------------------------------------- */

struct st {
    int started, ended;
    ssize_t last;      /* the handler's last read result */
    cio_event changed; /* set whenever started/ended changes */
    int keepalive;     /* SO_KEEPALIVE seen on the accepted socket */
    char name[32];     /* the connection task's name */
    double started_at;
    size_t big;       /* blast_handler: bytes to queue */
    cio_stream *kept; /* keep_handler */
    cio_server *srv;  /* quit_handler */
    int shutdown_rc;
};

static void note_start(struct st *st, cio_stream *s)
{
    st->started++;
    st->started_at = cio_time();
    snprintf(st->name, sizeof(st->name), "%s", cio_task_name(cio_current()));
    socklen_t kl = sizeof(st->keepalive);
    st->keepalive = -1;
    getsockopt(cio_stream_fd(s), SOL_SOCKET, SO_KEEPALIVE, &st->keepalive, &kl);
    cio_event_set(&st->changed);
}

static void note_end(struct st *st)
{
    st->ended++;
    cio_event_set(&st->changed);
}

static void echo_lines(struct st *st, cio_stream *s)
{
    char buf[1024];
    for (;;) {
        ssize_t n = cio_readline(s, buf, sizeof(buf));
        st->last = n;
        if (n <= 0)
            break;
        if (n == 5 && memcmp(buf, "quit\n", 5) == 0 && st->srv) {
            st->shutdown_rc = cio_server_shutdown(st->srv, 0.1);
            cio_write(s, "ok\n", 3);
            break;
        }
        if (cio_write(s, buf, (size_t)n) != 0 || cio_drain(s) != 0)
            break;
    }
}

static void echo_handler(cio_stream *s, void *arg)
{
    note_start(arg, s);
    echo_lines(arg, s);
    note_end(arg);
}

/* Queues st->big bytes without draining, then waits for input. */
static void blast_handler(cio_stream *s, void *arg)
{
    struct st *st = arg;
    note_start(st, s);
    char *data = malloc(st->big);
    memset(data, 'x', st->big);
    cio_write(s, data, st->big);
    free(data);
    echo_lines(st, s);
    note_end(st);
}

/* Writes st->big bytes and returns without closing or draining. */
static void write_and_return_handler(cio_stream *s, void *arg)
{
    struct st *st = arg;
    note_start(st, s);
    char *data = malloc(st->big);
    for (size_t i = 0; i < st->big; i++)
        data[i] = (char)('a' + i % 26);
    cio_write(s, data, st->big);
    free(data);
    note_end(st);
}

static void keep_handler(cio_stream *s, void *arg)
{
    struct st *st = arg;
    note_start(st, s);
    cio_stream_retain(s);
    st->kept = s;
    note_end(st);
}

static void slow_bye_handler(cio_stream *s, void *arg)
{
    note_start(arg, s);
    ((struct st *)arg)->last = cio_sleep(0.05);
    cio_write(s, "bye\n", 4);
    note_end(arg);
}

/* Wait until *counter >= n (st->changed is set on every change). */
static int wait_count(struct st *st, const int *counter, int n)
{
    while (*counter < n) {
        cio_event_clear(&st->changed);
        if (*counter >= n)
            break;
        int rc = cio_event_wait(&st->changed);
        if (rc)
            return rc;
    }
    return 0;
}

static intptr_t wait_closed_main(void *arg)
{
    return cio_server_wait_closed(arg);
}

static intptr_t serve_forever_main(void *arg)
{
    return cio_server_serve_forever(arg);
}

/* ---- echo over every kind of socket ------------------------------------------------ */

STEST(echo_tcp_ipv4)
{
    struct st st = {0};
    cio_server *srv;
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, "127.0.0.1", 0, NULL), 0);
    CHECK_EQ(cio_server_nsockets(srv), 1);
    CHECK(cio_server_is_serving(srv));
    uint16_t port = cio_server_port(srv);
    CHECK(port != 0);
    cio_stream *c;
    CHECK_EQ(dial("127.0.0.1", port, &c), 0);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(roundtrip(c, "hello over IPv4\n"), 0);
    CHECK_EQ(st.started, 1);
    CHECK(strncmp(st.name, "cio-conn 127.0.0.1:", 19) == 0);
    CHECK_EQ(st.keepalive, 0);
    hangup(c);
    CHECK_EQ(wait_count(&st, &st.ended, 1), 0);
    CHECK_EQ(st.last, 0); /* the handler saw EOF */
    cio_server_close(srv);
    CHECK_EQ(cio_server_wait_closed(srv), 0);
    cio_server_free(srv);
    return 0;
}

STEST_IF(echo_tcp_ipv6, have_ipv6_loopback())
{
    struct st st = {0};
    cio_server *srv;
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, "::1", 0, NULL), 0);
    CHECK_EQ(cio_server_nsockets(srv), 1);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    CHECK_EQ(cio_server_sockname(srv, 0, (struct sockaddr *)&ss, &len), 0);
    CHECK_EQ(ss.ss_family, AF_INET6);
    cio_stream *c;
    CHECK_EQ(dial("::1", cio_server_port(srv), &c), 0);
    CHECK_EQ(roundtrip(c, "hello over IPv6\n"), 0);
    CHECK(strncmp(st.name, "cio-conn [::1]:", 15) == 0);
    hangup(c);
    CHECK_EQ(cio_server_shutdown(srv, 5), 0);
    CHECK_EQ(st.ended, 1);
    cio_server_free(srv);
    return 0;
}

STEST(echo_unix_and_socket_file_removed_on_close)
{
    char path[108];
    unix_path(path, sizeof(path), "echo");
    struct st st = {0};
    cio_server *srv;
    CHECK_EQ(cio_start_unix_server(&srv, echo_handler, &st, path, NULL), 0);
    CHECK(file_exists(path));
    CHECK_EQ(cio_server_port(srv), 0);
    CHECK_EQ(cio_server_nsockets(srv), 1);
    cio_stream *c;
    CHECK_EQ(dial_unix(path, &c), 0);
    CHECK_EQ(roundtrip(c, "hello over Unix\n"), 0);
    CHECK(strncmp(st.name, "cio-conn", 8) == 0);
    hangup(c);
    cio_server_close(srv);
    CHECK(!file_exists(path));
    CHECK_EQ(cio_server_wait_closed(srv), 0);
    CHECK_EQ(st.ended, 1);
    cio_server_free(srv);
    return 0;
}

STEST(echo_abstract_unix)
{
    char name[64];
    snprintf(name, sizeof(name), "@cio-srv-%d-abstract", (int)getpid());
    struct st st = {0};
    cio_server *srv;
    CHECK_EQ(cio_start_unix_server(&srv, echo_handler, &st, name, NULL), 0);
    struct sockaddr_un sun;
    socklen_t len = sizeof(sun);
    CHECK_EQ(cio_server_sockname(srv, 0, (struct sockaddr *)&sun, &len), 0);
    CHECK_EQ(sun.sun_family, AF_UNIX);
    CHECK_EQ(sun.sun_path[0], '\0');
    CHECK(memcmp(sun.sun_path + 1, name + 1, strlen(name) - 1) == 0);
    cio_stream *c;
    CHECK_EQ(dial_unix(name, &c), 0);
    CHECK_EQ(roundtrip(c, "abstract\n"), 0);
    /* A second server on the same abstract name is refused by bind. */
    cio_server *srv2;
    CHECK_EQ(cio_start_unix_server(&srv2, echo_handler, &st, name, NULL), -EADDRINUSE);
    hangup(c);
    CHECK_EQ(cio_server_shutdown(srv, 5), 0);
    cio_server_free(srv);
    return 0;
}

/* ---- binding ----------------------------------------------------------------------- */

STEST(host_null_binds_ipv4_and_ipv6_on_one_port)
{
    struct st st = {0};
    cio_server *srv;
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, NULL, 0, NULL), 0);
    size_t n = cio_server_nsockets(srv);
    CHECK(n >= 1);
    if (have_ipv6_loopback())
        CHECK_EQ(n, 2);
    uint16_t port = cio_server_port(srv);
    for (size_t i = 0; i < n; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        CHECK_EQ(cio_server_sockname(srv, i, (struct sockaddr *)&ss, &len), 0);
        CHECK_EQ(ss.ss_family, i == 0 ? AF_INET : AF_INET6);
        /* Documented: with port 0 the others reuse the first one's port. */
        uint16_t p = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                             : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        CHECK_EQ(p, port);
    }
    cio_stream *c4, *c6 = NULL;
    CHECK_EQ(dial("127.0.0.1", port, &c4), 0);
    CHECK_EQ(roundtrip(c4, "v4\n"), 0);
    if (n == 2) {
        CHECK_EQ(dial("::1", port, &c6), 0);
        CHECK_EQ(roundtrip(c6, "v6\n"), 0);
        hangup(c6);
    }
    hangup(c4);
    /* "" means the same as NULL. */
    cio_server *srv2;
    CHECK_EQ(cio_start_server(&srv2, echo_handler, &st, "", 0, NULL), 0);
    CHECK_EQ(cio_server_nsockets(srv2), n);
    cio_server_free(srv2);
    CHECK_EQ(cio_server_shutdown(srv, 5), 0);
    cio_server_free(srv);
    return 0;
}

STEST(comma_separated_hosts_bind_each)
{
    struct st st = {0};
    cio_server *srv;
    bool v6 = have_ipv6_loopback();
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, "127.0.0.1, ::1", 0, NULL), 0);
    CHECK_EQ(cio_server_nsockets(srv), v6 ? 2 : 1); /* ::1 is skipped without IPv6 */
    cio_stream *c;
    CHECK_EQ(dial("127.0.0.1", cio_server_port(srv), &c), 0);
    CHECK_EQ(roundtrip(c, "first\n"), 0);
    hangup(c);
    if (v6) {
        CHECK_EQ(dial("::1", cio_server_port(srv), &c), 0);
        CHECK_EQ(roundtrip(c, "second\n"), 0);
        hangup(c);
    }
    cio_server_free(srv);
    /* Nothing but separators is no address at all. */
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, " , ", 0, NULL), -EINVAL);
    return 0;
}

STEST(port_reporting)
{
    struct st st = {0};
    cio_server *srv;
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, "127.0.0.1", 0, NULL), 0);
    struct sockaddr_in sin;
    socklen_t len = 1;
    CHECK_EQ(cio_server_sockname(srv, 0, (struct sockaddr *)&sin, &len), -EINVAL);
    CHECK_EQ(len, sizeof(sin)); /* the size needed */
    CHECK_EQ(cio_server_sockname(srv, 0, (struct sockaddr *)&sin, &len), 0);
    CHECK_EQ(ntohs(sin.sin_port), cio_server_port(srv));
    CHECK_EQ(cio_server_sockname(srv, 1, (struct sockaddr *)&sin, &len), -EINVAL);
    /* The client sees the same port. */
    cio_stream *c;
    CHECK_EQ(dial("127.0.0.1", cio_server_port(srv), &c), 0);
    struct sockaddr_in peer;
    len = sizeof(peer);
    CHECK_EQ(cio_stream_peername(c, (struct sockaddr *)&peer, &len), 0);
    CHECK_EQ(ntohs(peer.sin_port), cio_server_port(srv));
    hangup(c);
    /* Closed: no sockets any more (asyncio's Server.sockets is empty). */
    cio_server_close(srv);
    CHECK_EQ(cio_server_nsockets(srv), 0);
    CHECK_EQ(cio_server_port(srv), 0);
    CHECK_EQ(cio_server_sockname(srv, 0, (struct sockaddr *)&sin, &len), -EBADF);
    cio_server_free(srv);
    return 0;
}

STEST(bad_arguments)
{
    struct st st = {0};
    cio_server *srv;
    cio_server_opts o = CIO_SERVER_OPTS_INIT;
    CHECK_EQ(cio_start_server(&srv, NULL, &st, "127.0.0.1", 0, NULL), -EINVAL);
    CHECK_EQ(cio_start_server(NULL, echo_handler, &st, "127.0.0.1", 0, NULL), -EINVAL);
    o.stream.limit = 0;
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, "127.0.0.1", 0, &o), -EINVAL);
    o = (cio_server_opts)CIO_SERVER_OPTS_INIT;
    o.family = AF_UNIX;
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, "127.0.0.1", 0, &o), -EINVAL);
    o = (cio_server_opts)CIO_SERVER_OPTS_INIT;
    o.backlog = -1;
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, "127.0.0.1", 0, &o), -EINVAL);
    /* TLS timeouts without TLS (asyncio: ValueError). */
    o = (cio_server_opts)CIO_SERVER_OPTS_INIT;
    o.tls_handshake_timeout = 5;
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, "127.0.0.1", 0, &o), -EINVAL);
    o = (cio_server_opts)CIO_SERVER_OPTS_INIT;
    o.tls_shutdown_timeout = 5;
    CHECK_EQ(cio_start_unix_server(&srv, echo_handler, &st, "@cio-tls-timeouts", &o), -EINVAL);
    o = (cio_server_opts)CIO_SERVER_OPTS_INIT;
    o.family = AF_INET6;
    CHECK(cio_start_server(&srv, echo_handler, &st, "127.0.0.1", 0, &o) < 0);
    CHECK_EQ(cio_start_unix_server(&srv, echo_handler, &st, "", NULL), -EINVAL);
    char longpath[200];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    CHECK_EQ(cio_start_unix_server(&srv, echo_handler, &st, longpath, NULL), -ENAMETOOLONG);
    return 0;
}

STEST(reuse_port_lets_two_servers_share_a_port)
{
    struct st st = {0};
    cio_server *a, *b;
    cio_server_opts o = CIO_SERVER_OPTS_INIT;
    o.reuse_port = true;
    CHECK_EQ(cio_start_server(&a, echo_handler, &st, "127.0.0.1", 0, &o), 0);
    uint16_t port = cio_server_port(a);
    CHECK_EQ(cio_start_server(&b, echo_handler, &st, "127.0.0.1", port, &o), 0);
    CHECK_EQ(cio_server_port(b), port);
    cio_stream *c;
    CHECK_EQ(dial("127.0.0.1", port, &c), 0);
    CHECK_EQ(roundtrip(c, "either\n"), 0);
    hangup(c);
    /* Without SO_REUSEPORT the port is taken. */
    cio_server *d;
    CHECK_EQ(cio_start_server(&d, echo_handler, &st, "127.0.0.1", port, NULL), -EADDRINUSE);
    cio_server_free(a);
    cio_server_free(b);
    return 0;
}

STEST(keep_alive_is_set_on_accepted_sockets)
{
    struct st st = {0};
    cio_server *srv;
    cio_server_opts o = CIO_SERVER_OPTS_INIT;
    o.keep_alive = true;
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, "127.0.0.1", 0, &o), 0);
    cio_stream *c;
    CHECK_EQ(dial("127.0.0.1", cio_server_port(srv), &c), 0);
    CHECK_EQ(roundtrip(c, "ka\n"), 0);
    CHECK_EQ(st.keepalive, 1);
    hangup(c);
    CHECK_EQ(cio_server_shutdown(srv, 5), 0);
    cio_server_free(srv);
    return 0;
}

/* ---- handler lifetimes ----------------------------------------------------------------- */

STEST(handler_returning_closes_gracefully_after_flushing)
{
    struct st st = {.big = 4 << 20};
    cio_server *srv;
    CHECK_EQ(cio_start_server(&srv, write_and_return_handler, &st, "127.0.0.1", 0, NULL), 0);
    cio_stream *c;
    CHECK_EQ(dial("127.0.0.1", cio_server_port(srv), &c), 0);
    char *data;
    size_t len;
    CHECK_EQ(cio_read_all(c, &data, &len), (ssize_t)st.big);
    CHECK_EQ(len, st.big);
    size_t bad = 0;
    for (size_t i = 0; i < len; i++)
        bad += data[i] != (char)('a' + i % 26);
    free(data);
    CHECK_EQ(bad, 0);
    CHECK(cio_at_eof(c));
    hangup(c);
    CHECK_EQ(cio_server_shutdown(srv, 5), 0);
    cio_server_free(srv);
    return 0;
}

STEST(handler_retaining_the_stream_keeps_it_open)
{
    struct st st = {0};
    cio_server *srv;
    CHECK_EQ(cio_start_server(&srv, keep_handler, &st, "127.0.0.1", 0, NULL), 0);
    cio_stream *c;
    CHECK_EQ(dial("127.0.0.1", cio_server_port(srv), &c), 0);
    CHECK_EQ(wait_count(&st, &st.ended, 1), 0);
    cio_stream *k = st.kept;
    CHECK(!cio_is_closing(k));
    /* The handler's task is over, so the server has nothing to wait for. */
    cio_server_close(srv);
    CHECK_EQ(cio_server_wait_closed(srv), 0);
    CHECK_EQ(cio_write(c, "ping\n", 5), 0);
    char buf[16];
    CHECK_EQ(cio_readline(k, buf, sizeof(buf)), 5);
    CHECK_EQ(cio_write(k, "kept\n", 5), 0);
    CHECK_EQ(cio_readline(c, buf, sizeof(buf)), 5);
    CHECK(memcmp(buf, "kept\n", 5) == 0);
    cio_close(k);
    CHECK_EQ(cio_wait_closed(k), 0);
    cio_stream_release(k);
    CHECK_EQ(cio_read(c, buf, sizeof(buf)), 0);
    hangup(c);
    cio_server_free(srv);
    return 0;
}

/* ---- closing --------------------------------------------------------------------------- */

STEST(close_leaves_live_connections_and_wait_closed_waits_for_them)
{
    struct st st = {0};
    cio_server *srv;
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, "127.0.0.1", 0, NULL), 0);
    uint16_t port = cio_server_port(srv);
    cio_stream *c;
    CHECK_EQ(dial("127.0.0.1", port, &c), 0);
    CHECK_EQ(roundtrip(c, "before\n"), 0);
    cio_server_close(srv);
    cio_server_close(srv); /* idempotent */
    CHECK(!cio_server_is_serving(srv));
    cio_stream *late;
    CHECK_EQ(dial("127.0.0.1", port, &late), -ECONNREFUSED);
    CHECK_EQ(roundtrip(c, "after close\n"), 0);
    cio_task *w1, *w2;
    CHECK_EQ(cio_spawn(&w1, wait_closed_main, srv, NULL), 0);
    CHECK_EQ(cio_spawn(&w2, wait_closed_main, srv, NULL), 0);
    CHECK_EQ(roundtrip(c, "still\n"), 0);
    CHECK(!cio_task_done(w1) && !cio_task_done(w2));
    CHECK_EQ(st.ended, 0);
    hangup(c);
    intptr_t r1 = -1, r2 = -1;
    CHECK_EQ(cio_join(w1, &r1), 0);
    CHECK_EQ(cio_join(w2, &r2), 0);
    CHECK_EQ(r1, 0);
    CHECK_EQ(r2, 0);
    CHECK_EQ(st.ended, 1);
    CHECK_EQ(cio_server_wait_closed(srv), 0); /* immediate now */
    CHECK_EQ(cio_server_start_serving(srv), -EBADF);
    cio_server_free(srv);
    return 0;
}

/* Close (flush) vs abort (discard): a handler has 8 MiB queued for a
 * client that has not read yet. */
static intptr_t clients_case(bool abort)
{
    struct st st = {.big = 8 << 20};
    cio_server *srv;
    CHECK_EQ(cio_start_server(&srv, blast_handler, &st, "127.0.0.1", 0, NULL), 0);
    cio_stream *c;
    CHECK_EQ(dial("127.0.0.1", cio_server_port(srv), &c), 0);
    CHECK_EQ(wait_count(&st, &st.started, 1), 0);
    if (abort)
        cio_server_abort_clients(srv);
    else
        cio_server_close_clients(srv);
    char *data;
    size_t len;
    ssize_t n = cio_read_all(c, &data, &len);
    free(data);
    if (abort) {
        CHECK(n == -ECONNRESET || (n >= 0 && (size_t)n < st.big));
        CHECK(len < st.big);
    } else {
        CHECK_EQ(n, (ssize_t)st.big);
    }
    CHECK_EQ(wait_count(&st, &st.ended, 1), 0);
    CHECK_EQ(st.last, 0); /* the handler's pending read ended with EOF */
    hangup(c);
    cio_server_close(srv);
    CHECK_EQ(cio_server_wait_closed(srv), 0);
    cio_server_free(srv);
    return 0;
}

STEST(close_clients_flushes_then_closes)
{
    return clients_case(false);
}

STEST(abort_clients_discards_queued_data)
{
    return clients_case(true);
}

STEST(shutdown_with_an_idle_client_is_bounded)
{
    struct st st = {0};
    cio_server *srv;
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, "127.0.0.1", 0, NULL), 0);
    cio_stream *c;
    CHECK_EQ(dial("127.0.0.1", cio_server_port(srv), &c), 0);
    CHECK_EQ(wait_count(&st, &st.started, 1), 0);
    double t0 = cio_time();
    CHECK_EQ(cio_server_shutdown(srv, 0.2), 0);
    double took = cio_time() - t0;
    CHECK(took >= 0.19 && took < 1.0);
    CHECK_EQ(st.ended, 1);
    CHECK(st.last == 0 || st.last == -ECANCELED);
    char buf[8];
    ssize_t n = cio_read(c, buf, sizeof(buf));
    CHECK(n == 0 || n == -ECONNRESET);
    CHECK_EQ(cio_server_wait_closed(srv), 0);
    hangup(c);
    cio_server_free(srv);
    return 0;
}

STEST(shutdown_lets_handlers_finish_within_grace)
{
    struct st st = {0};
    cio_server *srv;
    CHECK_EQ(cio_start_server(&srv, slow_bye_handler, &st, "127.0.0.1", 0, NULL), 0);
    cio_stream *c;
    CHECK_EQ(dial("127.0.0.1", cio_server_port(srv), &c), 0);
    CHECK_EQ(wait_count(&st, &st.started, 1), 0);
    double t0 = cio_time();
    CHECK_EQ(cio_server_shutdown(srv, 10), 0);
    CHECK(cio_time() - t0 < 5); /* returned when the handler ended, not after the grace */
    CHECK_EQ(st.last, 0);       /* its sleep was not cut short */
    char buf[8];
    CHECK_EQ(cio_readline(c, buf, sizeof(buf)), 4);
    CHECK_EQ(cio_read(c, buf, sizeof(buf)), 0);
    hangup(c);
    cio_server_free(srv);
    return 0;
}

STEST(a_handler_can_shut_down_its_own_server)
{
    struct st st = {0};
    cio_server *srv;
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, "127.0.0.1", 0, NULL), 0);
    st.srv = srv;
    cio_stream *idle, *c;
    CHECK_EQ(dial("127.0.0.1", cio_server_port(srv), &idle), 0);
    CHECK_EQ(dial("127.0.0.1", cio_server_port(srv), &c), 0);
    CHECK_EQ(wait_count(&st, &st.started, 2), 0);
    CHECK_EQ(cio_write(c, "quit\n", 5), 0);
    char buf[8];
    CHECK_EQ(cio_readline(c, buf, sizeof(buf)), 3);
    CHECK_EQ(st.shutdown_rc, 0);
    CHECK_EQ(cio_server_wait_closed(srv), 0);
    CHECK_EQ(st.ended, 2);
    hangup(idle);
    hangup(c);
    cio_server_free(srv);
    return 0;
}

STEST(free_with_live_connections_lets_them_finish)
{
    struct st st = {0};
    cio_server *srv;
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, "127.0.0.1", 0, NULL), 0);
    cio_stream *c;
    CHECK_EQ(dial("127.0.0.1", cio_server_port(srv), &c), 0);
    CHECK_EQ(wait_count(&st, &st.started, 1), 0);
    cio_server_free(srv); /* the connection task now owns what is left */
    CHECK_EQ(roundtrip(c, "server memory is still there\n"), 0);
    hangup(c);
    CHECK_EQ(wait_count(&st, &st.ended, 1), 0);
    return 0;
}

/* ---- serving ---------------------------------------------------------------------------- */

STEST(serve_forever_cancelled_closes_the_server)
{
    struct st st = {0};
    cio_server *srv;
    cio_server_opts o = CIO_SERVER_OPTS_INIT;
    o.start_serving = false;
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, "127.0.0.1", 0, &o), 0);
    uint16_t port = cio_server_port(srv);
    cio_task *t;
    CHECK_EQ(cio_spawn(&t, serve_forever_main, srv, NULL), 0);
    cio_stream *c;
    CHECK_EQ(dial("127.0.0.1", port, &c), 0);
    CHECK_EQ(roundtrip(c, "served\n"), 0);
    CHECK(cio_server_is_serving(srv));
    cio_cancel(t);
    intptr_t r = 0;
    CHECK_EQ(cio_join(t, &r), 0);
    CHECK_EQ(r, -ECANCELED);
    CHECK(!cio_server_is_serving(srv));
    CHECK_EQ(cio_server_nsockets(srv), 0);
    cio_stream *late;
    CHECK_EQ(dial("127.0.0.1", port, &late), -ECONNREFUSED);
    CHECK_EQ(roundtrip(c, "live connections go on\n"), 0);
    hangup(c);
    CHECK_EQ(cio_server_wait_closed(srv), 0);
    CHECK_EQ(cio_server_serve_forever(srv), -EBADF);
    cio_server_free(srv);
    return 0;
}

STEST(second_serve_forever_is_busy)
{
    struct st st = {0};
    cio_server *srv;
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, "127.0.0.1", 0, NULL), 0);
    cio_task *t;
    CHECK_EQ(cio_spawn(&t, serve_forever_main, srv, NULL), 0);
    CHECK_EQ(cio_yield(), 0);
    CHECK_EQ(cio_server_serve_forever(srv), -EBUSY);
    cio_server_close(srv);
    intptr_t r = -1;
    CHECK_EQ(cio_join(t, &r), 0);
    CHECK_EQ(r, 0);
    CHECK_EQ(cio_server_serve_forever(srv), -EBADF);
    cio_server_free(srv);
    return 0;
}

STEST(start_serving_later)
{
    struct st st = {0};
    cio_server *srv;
    cio_server_opts o = CIO_SERVER_OPTS_INIT;
    o.start_serving = false;
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, "127.0.0.1", 0, &o), 0);
    CHECK(!cio_server_is_serving(srv));
    /* Listening already: the connection waits in the backlog. */
    cio_stream *c;
    CHECK_EQ(dial("127.0.0.1", cio_server_port(srv), &c), 0);
    CHECK_EQ(cio_write(c, "queued\n", 7), 0);
    for (int i = 0; i < 20; i++)
        CHECK_EQ(cio_yield(), 0);
    CHECK_EQ(st.started, 0);
    CHECK_EQ(cio_server_start_serving(srv), 0);
    CHECK_EQ(cio_server_start_serving(srv), 0); /* no-op */
    CHECK(cio_server_is_serving(srv));
    char buf[16];
    CHECK_EQ(cio_readline(c, buf, sizeof(buf)), 7);
    CHECK_EQ(st.started, 1);
    hangup(c);
    CHECK_EQ(cio_server_shutdown(srv, 5), 0);
    cio_server_free(srv);
    return 0;
}

/* ---- Unix socket files ------------------------------------------------------------------- */

STEST(stale_unix_socket_file_is_replaced)
{
    char path[108];
    unix_path(path, sizeof(path), "stale");
    /* A socket file whose server is gone. */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    CHECK_EQ(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    close(fd);
    CHECK(file_exists(path));
    struct st st = {0};
    cio_server *srv;
    CHECK_EQ(cio_start_unix_server(&srv, echo_handler, &st, path, NULL), 0);
    cio_stream *c;
    CHECK_EQ(dial_unix(path, &c), 0);
    CHECK_EQ(roundtrip(c, "fresh\n"), 0);
    hangup(c);
    cio_server_free(srv);
    CHECK(!file_exists(path));
    /* A file that is not a socket is not ours to remove. */
    fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    close(fd);
    CHECK_EQ(cio_start_unix_server(&srv, echo_handler, &st, path, NULL), -EADDRINUSE);
    CHECK(file_exists(path));
    unlink(path);
    return 0;
}

STEST(live_unix_server_is_addr_in_use)
{
    char path[108];
    unix_path(path, sizeof(path), "live");
    struct st st = {0};
    cio_server *srv, *srv2;
    CHECK_EQ(cio_start_unix_server(&srv, echo_handler, &st, path, NULL), 0);
    CHECK_EQ(cio_start_unix_server(&srv2, echo_handler, &st, path, NULL), -EADDRINUSE);
    CHECK(file_exists(path));
    cio_stream *c;
    CHECK_EQ(dial_unix(path, &c), 0);
    CHECK_EQ(roundtrip(c, "first server still serves\n"), 0);
    hangup(c);
    cio_server_free(srv);
    CHECK(!file_exists(path));
    return 0;
}

STEST(socket_file_replaced_by_someone_else_is_left_alone)
{
    char path[108];
    unix_path(path, sizeof(path), "replaced");
    struct st st = {0};
    cio_server *srv;
    CHECK_EQ(cio_start_unix_server(&srv, echo_handler, &st, path, NULL), 0);
    unlink(path);
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    close(fd);
    cio_server_free(srv);
    CHECK(file_exists(path));
    unlink(path);
    return 0;
}

/* ---- accepting under pressure ------------------------------------------------------------ */

/* Arming with a far-away nth just counts calls (the counters only run
 * while something is armed). */
#define COUNT_ONLY (1ul << 40)

static int highest_fd(void)
{
    int max = -1;
    for (int fd = 0; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            max = fd;
    return max;
}

/* Runs in a forked child: real EMFILE from accept4, with every descriptor
 * slot below a lowered RLIMIT_NOFILE taken. */
static intptr_t emfile_child_main(void *arg)
{
    (void)arg;
    struct st st = {0};
    cio_server *srv;
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, "127.0.0.1", 0, NULL), 0);
    /* Connect before the slots are gone; nothing has yielded yet, so the
     * accept task has not run. */
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(cio_server_port(srv))};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int cfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CHECK(cfd >= 0);
    CHECK(connect(cfd, (struct sockaddr *)&sin, sizeof(sin)) == 0 || errno == EINPROGRESS);
    cio_stream *c;
    CHECK_EQ(cio_stream_from_fd(&c, cfd, NULL), 0);

    struct rlimit old, low;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = (rlim_t)highest_fd() + 1 + 16;
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    int fillers[64], nfill = 0, fd;
    while (nfill < 64 && (fd = dup(0)) >= 0)
        fillers[nfill++] = fd;
    CHECK_EQ(errno, EMFILE);

    cio__fault_arm(CIO_FAULT_ACCEPT, COUNT_ONLY, EMFILE, false);
    CHECK_EQ(cio_sleep(1.5), 0);
    unsigned long calls = cio__fault_calls(CIO_FAULT_ACCEPT);
    cio__fault_reset();
    CHECK(calls >= 1);
    CHECK(calls <= 4); /* a pause after each EMFILE, not a busy loop */
    CHECK_EQ(st.started, 0);

    /* Descriptors again: the waiting connection is served. */
    for (int i = 0; i < nfill; i++)
        close(fillers[i]);
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
    cio_timeout scope;
    cio_timeout_enter(&scope, 5);
    int rc = roundtrip(c, "served after EMFILE\n");
    cio_timeout_exit(&scope);
    CHECK_EQ(rc, 0);
    CHECK_EQ(st.started, 1);
    hangup(c);
    CHECK_EQ(cio_server_shutdown(srv, 5), 0);
    cio_server_free(srv);
    return 0;
}

Test(server, emfile_pauses_accepting_without_spinning)
{
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        check_in_child = true;
        alarm(30);
        intptr_t rc = cio_run(emfile_child_main, NULL);
        _exit(rc == 0 ? 0 : 1);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "child died (status %#x)", status);
    cr_assert_eq(WEXITSTATUS(status), 0, "child failed; see its stderr");
}

STEST(injected_emfile_pauses_accepting_for_a_second)
{
    struct st st = {0};
    cio_server *srv;
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, "127.0.0.1", 0, NULL), 0);
    CHECK_EQ(cio_yield(), 0); /* the accept task finds nothing and waits */
    cio__fault_arm(CIO_FAULT_ACCEPT, 1, EMFILE, false);
    double t0 = cio_time();
    cio_stream *c;
    CHECK_EQ(dial("127.0.0.1", cio_server_port(srv), &c), 0);
    CHECK_EQ(roundtrip(c, "late\n"), 0);
    double waited = st.started_at - t0;
    unsigned long calls = cio__fault_calls(CIO_FAULT_ACCEPT);
    cio__fault_reset();
    CHECK(waited >= 0.95);
    CHECK(waited < 3.0);
    CHECK(calls <= 3); /* EMFILE, the accept after the pause, then EAGAIN */
    hangup(c);
    CHECK_EQ(cio_server_shutdown(srv, 5), 0);
    cio_server_free(srv);
    return 0;
}

STEST(transient_accept_errors_are_skipped)
{
    struct st st = {0};
    cio_server *srv;
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, "127.0.0.1", 0, NULL), 0);
    CHECK_EQ(cio_yield(), 0);
    cio__fault_arm(CIO_FAULT_ACCEPT, 1, ECONNABORTED, false);
    double t0 = cio_time();
    cio_stream *c;
    CHECK_EQ(dial("127.0.0.1", cio_server_port(srv), &c), 0);
    CHECK_EQ(roundtrip(c, "no pause\n"), 0);
    cio__fault_reset();
    CHECK(st.started_at - t0 < 0.5);
    hangup(c);
    CHECK_EQ(cio_server_shutdown(srv, 5), 0);
    cio_server_free(srv);
    return 0;
}

enum { FLOOD = 1000 };

struct flood {
    uint16_t port;
    int ok;
};

static intptr_t flood_client(void *arg)
{
    struct flood *f = arg;
    cio_stream *c;
    int rc = dial("127.0.0.1", f->port, &c);
    if (rc)
        return rc;
    rc = roundtrip(c, "one of a thousand\n");
    hangup(c);
    if (rc == 0)
        f->ok++;
    return rc;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static bool enough_fds(void)
{
    raise_nofile();
    struct rlimit rl;
    return getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur >= 2 * FLOOD + 100;
}

STEST_IF(thousand_concurrent_connections, enough_fds())
{
    struct st st = {0};
    cio_server *srv;
    cio_server_opts o = CIO_SERVER_OPTS_INIT;
    /* All clients connect in one loop iteration, before the accept task
     * runs: a backlog of 100 would overflow and SYN retries cost seconds. */
    o.backlog = 2 * FLOOD;
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, "127.0.0.1", 0, &o), 0);
    struct flood f = {.port = cio_server_port(srv)};
    cio_task_group g;
    cio_group_init(&g);
    cio_task_opts to = {.name = "client", .stack_size = 64 * 1024};
    double t0 = cio_time();
    for (int i = 0; i < FLOOD; i++)
        CHECK_EQ(cio_group_spawn(&g, NULL, flood_client, &f, &to), 0);
    CHECK_EQ(cio_group_wait(&g), 0);
    CHECK_EQ(f.ok, FLOOD);
    CHECK_EQ(cio_server_shutdown(srv, 5), 0);
    CHECK_EQ(st.started, FLOOD);
    CHECK_EQ(st.ended, FLOOD);
    CHECK(cio_time() - t0 < 15);
    cio_server_free(srv);
    return 0;
}

/* ---- fault injection ------------------------------------------------------------------------ */

STEST(bind_and_listen_failures_leak_nothing)
{
    struct st st = {0};
    cio_server *srv;
    int fds = t_count_fds();
    cio__fault_arm(CIO_FAULT_BIND, 1, EACCES, false); /* bind */
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, "127.0.0.1", 0, NULL), -EACCES);
    cio__fault_reset();
    CHECK_EQ(t_count_fds(), fds);
    cio__fault_arm(CIO_FAULT_BIND, 2, EADDRINUSE, false); /* listen */
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, "127.0.0.1", 0, NULL), -EADDRINUSE);
    cio__fault_reset();
    CHECK_EQ(t_count_fds(), fds);
    /* The second address failing undoes the first. */
    cio__fault_arm(CIO_FAULT_BIND, 3, EACCES, false);
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, "127.0.0.1,127.0.0.2", 0, NULL), -EACCES);
    cio__fault_reset();
    CHECK_EQ(t_count_fds(), fds);
    /* Unix: nothing left in the file system either. */
    char path[108];
    unix_path(path, sizeof(path), "bindfault");
    cio__fault_arm(CIO_FAULT_BIND, 2, EACCES, false); /* listen, after the file exists */
    CHECK_EQ(cio_start_unix_server(&srv, echo_handler, &st, path, NULL), -EACCES);
    cio__fault_reset();
    CHECK_EQ(t_count_fds(), fds);
    CHECK(!file_exists(path));
    return 0;
}

STEST(unassignable_addresses_are_skipped)
{
    struct st st = {0};
    cio_server *srv;
    int fds = t_count_fds();
    /* The first address "cannot be assigned": the second is still bound. */
    cio__fault_arm(CIO_FAULT_BIND, 1, EADDRNOTAVAIL, false);
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, "127.0.0.2,127.0.0.1", 0, NULL), 0);
    cio__fault_reset();
    CHECK_EQ(cio_server_nsockets(srv), 1);
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    CHECK_EQ(cio_server_sockname(srv, 0, (struct sockaddr *)&sin, &len), 0);
    CHECK_EQ(ntohl(sin.sin_addr.s_addr), INADDR_LOOPBACK);
    cio_stream *c;
    CHECK_EQ(dial("127.0.0.1", cio_server_port(srv), &c), 0);
    CHECK_EQ(roundtrip(c, "second address\n"), 0);
    hangup(c);
    cio_server_free(srv);
    /* None can be: the bind error. */
    cio__fault_arm(CIO_FAULT_BIND, 1, EADDRNOTAVAIL, true);
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, "127.0.0.1,127.0.0.2", 0, NULL),
             -EADDRNOTAVAIL);
    cio__fault_reset();
    CHECK_EQ(wait_count(&st, &st.ended, 1), 0);
    CHECK_EQ(t_count_fds(), fds);
    return 0;
}

/* SQLite style: fail allocation 1, 2, ... of a start until it succeeds. */
static intptr_t alloc_case(bool unix_socket)
{
    struct st st = {0};
    cio_server *srv = NULL;
    char path[108];
    unix_path(path, sizeof(path), "alloc");
    int fds = t_count_fds();
    int failures = 0, rc = -1;
    for (unsigned long n = 1; n < 200 && rc != 0; n++) {
        cio__fault_arm(CIO_FAULT_ALLOC, n, ENOMEM, false);
        rc = unix_socket
                 ? cio_start_unix_server(&srv, echo_handler, &st, path, NULL)
                 : cio_start_server(&srv, echo_handler, &st, "127.0.0.1,127.0.0.2", 0, NULL);
        cio__fault_reset();
        if (rc == 0)
            break;
        CHECK_EQ(rc, -ENOMEM);
        failures++;
        /* Accept tasks of a failed start end (and free it) on their own. */
        for (int i = 0; i < 4; i++)
            CHECK_EQ(cio_yield(), 0);
        CHECK_EQ(t_count_fds(), fds);
        CHECK(!unix_socket || !file_exists(path));
    }
    CHECK_EQ(rc, 0);
    CHECK(failures >= 3);
    cio_stream *c;
    CHECK_EQ(unix_socket ? dial_unix(path, &c) : dial("127.0.0.1", cio_server_port(srv), &c), 0);
    CHECK_EQ(roundtrip(c, "after the faults\n"), 0);
    hangup(c);
    CHECK_EQ(cio_server_shutdown(srv, 5), 0);
    cio_server_free(srv);
    return 0;
}

STEST(allocation_failures_during_start_server)
{
    return alloc_case(false);
}

STEST(allocation_failures_during_start_unix_server)
{
    return alloc_case(true);
}

STEST(allocation_failure_while_accepting_drops_only_that_connection)
{
    struct st st = {0};
    cio_server *srv;
    cio_server_opts o = CIO_SERVER_OPTS_INIT;
    o.start_serving = false;
    CHECK_EQ(cio_start_server(&srv, echo_handler, &st, "127.0.0.1", 0, &o), 0);
    cio_stream *c;
    CHECK_EQ(dial("127.0.0.1", cio_server_port(srv), &c), 0);
    CHECK_EQ(cio_server_start_serving(srv), 0);
    /* The next allocation is the accepted connection's record. */
    cio__fault_arm(CIO_FAULT_ALLOC, 1, ENOMEM, false);
    cio__fault_arm(CIO_FAULT_ACCEPT, COUNT_ONLY, EMFILE, false);
    for (int i = 0; i < 100 && cio__fault_calls(CIO_FAULT_ACCEPT) < 2; i++)
        CHECK_EQ(cio_yield(), 0);
    CHECK(cio__fault_calls(CIO_FAULT_ACCEPT) >= 2);
    cio__fault_reset();
    char buf[8];
    ssize_t n = cio_read(c, buf, sizeof(buf));
    CHECK(n == 0 || n == -ECONNRESET);
    CHECK_EQ(st.started, 0);
    hangup(c);
    CHECK_EQ(dial("127.0.0.1", cio_server_port(srv), &c), 0);
    CHECK_EQ(roundtrip(c, "the next one is fine\n"), 0);
    hangup(c);
    CHECK_EQ(cio_server_shutdown(srv, 5), 0);
    cio_server_free(srv);
    return 0;
}

#ifndef CIO_NO_TLS
/* ---- TLS --------------------------------------------------------------------------------- */

static void tls_echo_handler(cio_stream *s, void *arg)
{
    struct st *st = arg;
    st->keepalive = cio_stream_is_tls(s); /* reused as "the handler saw TLS" */
    st->started++;
    cio_event_set(&st->changed);
    echo_lines(st, s);
    note_end(st);
}

STEST(tls_server, .init = tc_setup, .fini = tc_teardown)
{
    struct st st = {0};
    cio_server *srv;
    cio_tls_ctx *sctx = tc_server("server", CIO_TLS_VERIFY_NONE, NULL);
    cio_tls_ctx *cctx = tc_client("ca.pem", NULL, NULL);
    cio_server_opts o = CIO_SERVER_OPTS_INIT;
    o.tls = cctx; /* a client context cannot serve */
    CHECK_EQ(cio_start_server(&srv, tls_echo_handler, &st, "127.0.0.1", 0, &o), -EINVAL);
    o.tls = sctx;
    CHECK_EQ(cio_start_server(&srv, tls_echo_handler, &st, "127.0.0.1", 0, &o), 0);
    cio_tls_ctx_free(sctx); /* the server holds its own reference */
    uint16_t port = cio_server_port(srv);

    /* A client that does not speak TLS: the handshake fails in the
     * connection task and the handler never runs. */
    cio_stream *c;
    CHECK_EQ(dial("127.0.0.1", port, &c), 0);
    CHECK_EQ(cio_write(c, "GET / HTTP/1.0\r\n\r\n", 18), 0);
    char buf[64];
    ssize_t n;
    while ((n = cio_read(c, buf, sizeof(buf))) > 0)
        ; /* an alert, perhaps, then the end */
    CHECK(n == 0 || n == -ECONNRESET);
    hangup(c);
    CHECK_EQ(st.started, 0);

    CHECK_EQ(dial("127.0.0.1", port, &c), 0);
    cio_start_tls_opts to = CIO_START_TLS_OPTS_INIT;
    to.server_hostname = "localhost";
    CHECK_EQ(cio_start_tls(c, cctx, &to), 0);
    CHECK_EQ(roundtrip(c, "over TLS\n"), 0);
    CHECK_EQ(st.started, 1);
    CHECK_EQ(st.keepalive, 1);
    hangup(c);
    CHECK_EQ(cio_server_shutdown(srv, 5), 0);
    CHECK_EQ(st.ended, 1);
    cio_server_free(srv);
    cio_tls_ctx_free(cctx);
    return 0;
}
#endif
