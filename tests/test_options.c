/* Every option struct is valid zero-initialised, and 0 means the default
 * in every field (docs/design.md, "API conventions"): for each function
 * that takes options, a zero struct with one field set to a non-default
 * value is accepted.  Fields that only mean something with TLS are set
 * on a zero struct that has the TLS context (asyncio, too, refuses
 * ssl_handshake_timeout without ssl). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio.h"
#include "helpers.h"
#ifndef CIO_NO_TLS
#include "tls_certs.h"
#endif

TestSuite(options, .timeout = 60);

static intptr_t nothing(void *arg)
{
    (void)arg;
    return 7;
}

Test(options, run_opts)
{
    const cio_run_opts each[] = {
        {0},
        {.backend = CIO_BACKEND_POLL},
        {.stack_size = 128 * 1024},
        {.debug = true},
    };
    for (size_t i = 0; i < sizeof(each) / sizeof(each[0]); i++)
        cr_assert_eq(cio_run_with(nothing, NULL, &each[i]), 7, "run_opts #%zu", i);
}

static void echo_handler(cio_stream *s, void *arg)
{
    (void)arg;
    char buf[64];
    ssize_t n = cio_readline(s, buf, sizeof(buf));
    if (n > 0)
        cio_write(s, buf, (size_t)n);
}

/* A server for each options value, a client round trip through it. */
static void serve_once(const cio_server_opts *so, const cio_connect_opts *co, const char *what)
{
    cio_server *srv;
    int rc = cio_start_server(&srv, echo_handler, NULL, "127.0.0.1", 0, so);
    cr_assert_eq(rc, 0, "start_server with %s: %s", what, cio_strerror(rc));
    if (so && so->no_start_serving)
        cr_assert_eq(cio_server_start_serving(srv), 0);
    cio_stream *c;
    rc = cio_open_connection(&c, "127.0.0.1", cio_server_port(srv), co);
    cr_assert_eq(rc, 0, "open_connection with %s: %s", what, cio_strerror(rc));
    char buf[16];
    cr_assert_eq(cio_write(c, "hi\n", 3), 0);
    cr_assert_eq(cio_readline(c, buf, sizeof(buf)), 3, "round trip with %s", what);
    cio_close(c);
    cio_wait_closed(c);
    cio_stream_release(c);
    cio_server_close(srv);
    cio_server_wait_closed(srv);
    cio_server_free(srv);
}

TASK_TEST(options, task_stream_connect_and_server_opts)
{
    const cio_task_opts tasks[] = {{0}, {.name = "named"}, {.stack_size = 64 * 1024}};
    for (size_t i = 0; i < sizeof(tasks) / sizeof(tasks[0]); i++) {
        cio_task *t;
        cr_assert_eq(cio_spawn(&t, nothing, NULL, &tasks[i]), 0, "task_opts #%zu", i);
        intptr_t r;
        cr_assert_eq(cio_join(t, &r), 0);
        cr_assert_eq(r, 7);
    }

    const cio_stream_opts streams[] = {
        {0}, {.limit = 100}, {.high_water = 1000}, {.low_water = 10}, {.close_timeout = 1},
    };
    for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
        int sv[2];
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        cio_stream *s;
        cr_assert_eq(cio_stream_from_fd(&s, sv[0], &streams[i]), 0, "stream_opts #%zu", i);
        cio_stream_release(s);
        close(sv[1]);
        char what[32];
        snprintf(what, sizeof(what), "stream_opts #%zu", i);
        serve_once(&(cio_server_opts){.stream = streams[i]},
                   &(cio_connect_opts){.stream = streams[i]}, what);
    }

    const cio_connect_opts connects[] = {
        {.family = AF_INET},
        {.local_host = "127.0.0.1"},
        {.local_port = 0},
        {.happy_eyeballs_delay = 0.1},
        {.happy_eyeballs_delay = CIO_HAPPY_EYEBALLS_OFF},
    };
    for (size_t i = 0; i < sizeof(connects) / sizeof(connects[0]); i++) {
        char what[32];
        snprintf(what, sizeof(what), "connect_opts #%zu", i);
        serve_once(NULL, &connects[i], what);
    }

    const cio_server_opts servers[] = {
        {.backlog = 5},       {.no_reuse_address = true}, {.reuse_port = true},
        {.keep_alive = true}, {.no_start_serving = true}, {.family = AF_INET},
    };
    for (size_t i = 0; i < sizeof(servers) / sizeof(servers[0]); i++) {
        char what[32];
        snprintf(what, sizeof(what), "server_opts #%zu", i);
        serve_once(&servers[i], NULL, what);
    }

    /* The Unix variants take the same structs. */
    cio_server *srv;
    cr_assert_eq(cio_start_unix_server(&srv, echo_handler, NULL, "@cio-options-test",
                                       &(cio_server_opts){.backlog = 5}),
                 0);
    cio_stream *c;
    cr_assert_eq(
        cio_open_unix_connection(&c, "@cio-options-test", &(cio_connect_opts){.stream.limit = 100}),
        0);
    cio_stream_release(c);
    cio_server_close(srv);
    cio_server_wait_closed(srv);
    cio_server_free(srv);
    return 0;
}

#ifndef CIO_NO_TLS
static intptr_t tls_main(void *arg)
{
    (void)arg;
    /* Contexts: a zero struct with one field set. */
    const cio_tls_client_opts clients[] = {
        {.no_verify = true},
        {.cafile = tc_path("ca.pem")},
        {.alpn = "h2", .no_verify = true},
        {.min_version = CIO_TLS_VERSION_1_3, .no_verify = true},
    };
    for (size_t i = 0; i < sizeof(clients) / sizeof(clients[0]); i++) {
        cio_tls_ctx *ctx;
        int rc = cio_tls_client_ctx(&ctx, &clients[i]);
        cr_assert_eq(rc, 0, "tls_client_opts #%zu: %s", i, cio_tls_error_reason(NULL));
        cio_tls_ctx_free(ctx);
    }
    cio_tls_ctx *sc = tc_server("server", 0, NULL), *cc = tc_client("ca.pem", NULL, NULL);
    /* The TLS fields of the connection and server options, each on top of
     * the context alone. */
    const cio_connect_opts connects[] = {
        {.tls = cc, .server_hostname = "localhost"},
        {.tls = cc, .server_hostname = "localhost", .tls_handshake_timeout = 5},
        {.tls = cc, .server_hostname = "localhost", .tls_shutdown_timeout = 5},
    };
    const cio_server_opts servers[] = {
        {.tls = sc},
        {.tls = sc, .tls_handshake_timeout = 5},
        {.tls = sc, .tls_shutdown_timeout = 5},
    };
    for (size_t i = 0; i < sizeof(servers) / sizeof(servers[0]); i++) {
        char what[32];
        snprintf(what, sizeof(what), "TLS opts #%zu", i);
        serve_once(&servers[i], &connects[i], what);
    }
    cio_tls_ctx_free(sc);
    cio_tls_ctx_free(cc);
    return 0;
}

Test(options, tls_opts, .init = tc_setup, .fini = tc_teardown)
{
    cr_assert_eq(cio_run(tls_main, NULL), 0);
}
#endif
