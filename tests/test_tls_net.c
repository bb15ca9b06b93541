/* TLS through cio_open_connection / cio_open_unix_connection and
 * cio_start_server / cio_start_unix_server over loopback, and interop
 * with real programs: `openssl s_server` serving a cio client and
 * `openssl s_client` talking to a cio server. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cio.h"
#include "tls_certs.h"

extern char **environ;

TestSuite(tls_net, .timeout = 60);

/* ---- a TLS echo server ------------------------------------------------------------- */

struct echo_state {
    int conns;      /* handlers run */
    char alpn[32];  /* what the last connection agreed */
    char peer[128]; /* the last client certificate's subject */
    unsigned char md[32];
    bool hash_mode; /* read to EOF and hash, instead of echoing lines */
    bool one_line;  /* echo one line, then close (s_client waits for that) */
};

static void echo_handler(cio_stream *s, void *arg)
{
    struct echo_state *st = arg;
    st->conns++;
    const char *alpn = cio_stream_tls_alpn(s);
    snprintf(st->alpn, sizeof(st->alpn), "%s", alpn ? alpn : "");
    if (cio_stream_peer_subject(s, st->peer, sizeof(st->peer)) < 0)
        st->peer[0] = '\0';
    if (st->hash_mode) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        EVP_DigestInit_ex(md, EVP_sha256(), NULL);
        static char buf[65536];
        ssize_t n;
        while ((n = cio_read(s, buf, sizeof(buf))) > 0)
            EVP_DigestUpdate(md, buf, (size_t)n);
        EVP_DigestFinal_ex(md, st->md, NULL);
        EVP_MD_CTX_free(md);
        return;
    }
    const char *line;
    ssize_t n;
    while ((n = cio_readline_view(s, &line)) > 0) {
        if (cio_write(s, line, (size_t)n) || cio_drain(s) || st->one_line)
            break;
    }
}

static cio_server *tls_server(cio_tls_ctx *sc, struct echo_state *st, double hs_timeout)
{
    cio_server_opts so = CIO_SERVER_OPTS_INIT;
    so.tls = sc;
    so.tls_handshake_timeout = hs_timeout;
    cio_server *srv;
    ASSERT_RC(cio_start_server(&srv, echo_handler, st, "127.0.0.1", 0, &so), 0);
    return srv;
}

static void server_done(cio_server *srv)
{
    cio_server_close(srv);
    ASSERT_RC(cio_server_shutdown(srv, 2.0), 0);
    cio_server_free(srv);
}

static int tls_connect(cio_stream **c, const char *host, uint16_t port, cio_tls_ctx *cc,
                       const char *name)
{
    cio_connect_opts o = CIO_CONNECT_OPTS_INIT;
    o.tls = cc;
    o.server_hostname = name;
    return cio_open_connection(c, host, port, &o);
}

static void echo_once(cio_stream *c, const char *msg)
{
    char line[128];
    size_t len = strlen(msg);
    ASSERT_RC(cio_write(c, msg, len), 0);
    ASSERT_RC(cio_readline(c, line, sizeof(line)), len);
    cr_assert_eq(memcmp(line, msg, len), 0);
}

/* ---- through open_connection / start_server ---------------------------------------- */

TLS_TEST(tls_net, tcp_echo_by_address_and_by_name)
{
    struct echo_state st = {0};
    cio_tls_ctx *cc = tc_client("ca.pem", NULL, NULL), *sc = tc_server("server", 0, NULL);
    cio_server *srv = tls_server(sc, &st, 5);
    uint16_t port = cio_server_port(srv);
    cio_stream *c;
    /* server_hostname defaults to the host: an IP address SAN here... */
    ASSERT_RC(tls_connect(&c, "127.0.0.1", port, cc, NULL), 0);
    echo_once(c, "by address\n");
    cr_assert_str_eq(cio_stream_tls_version(c), "TLSv1.3");
    char big[60000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\n';
    ASSERT_RC(cio_write(c, big, sizeof(big)), 0);
    ASSERT_RC(cio_drain(c), 0);
    char back[sizeof(big)];
    ASSERT_RC(cio_readexactly(c, back, sizeof(back), NULL), sizeof(back));
    cr_assert_eq(memcmp(big, back, sizeof(big)), 0);
    cio_close(c);
    ASSERT_RC(cio_wait_closed(c), 0);
    cio_stream_release(c);
    /* ...a DNS name there. */
    ASSERT_RC(tls_connect(&c, "localhost", port, cc, NULL), 0);
    echo_once(c, "by name\n");
    cr_assert_str_eq(cio_stream_tls_server_name(c), "localhost");
    cio_close(c);
    ASSERT_RC(cio_wait_closed(c), 0);
    cio_stream_release(c);
    /* An explicit server_hostname wins over the host. */
    ASSERT_RC(tls_connect(&c, "127.0.0.1", port, cc, "example.com"), CIO_ETLSHOSTNAME);
    cr_assert_null(c);
    cr_assert(strstr(cio_tls_error_reason(NULL), "certificate"), "%s", cio_tls_error_reason(NULL));
    server_done(srv);
    cr_assert_eq(st.conns, 2, "the handler ran %d times", st.conns);
    cio_tls_ctx_free(cc);
    cio_tls_ctx_free(sc);
    return 0;
}

TLS_TEST(tls_net, tcp_64mib_hashed_and_mutual_tls)
{
    struct echo_state st = {.hash_mode = true};
    cio_tls_ctx *cc = tc_client("ca.pem", "client", "h2,http/1.1");
    cio_tls_server_opts so = CIO_TLS_SERVER_OPTS_INIT;
    so.certfile = tc_path("server.pem");
    so.keyfile = tc_path("server.key");
    so.client_cafile = tc_path("ca.pem");
    so.verify_client = CIO_TLS_VERIFY_REQUIRED;
    so.alpn = "http/1.1";
    cio_tls_ctx *sc;
    ASSERT_RC(cio_tls_server_ctx(&sc, &so), 0);
    cio_server *srv = tls_server(sc, &st, 5);
    cio_stream *c;
    ASSERT_RC(tls_connect(&c, "127.0.0.1", cio_server_port(srv), cc, "localhost"), 0);
    cr_assert_str_eq(cio_stream_tls_alpn(c), "http/1.1");

    enum { TOTAL = 64 * 1024 * 1024, CHUNK = 200 * 1000 };
    unsigned char *chunk = malloc(CHUNK), md[32];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (size_t sent = 0, i = 0; sent < TOTAL; i++) {
        size_t len = TOTAL - sent < CHUNK ? TOTAL - sent : CHUNK;
        memset(chunk, (int)(i * 7), len);
        chunk[i % len] ^= 0x5a;
        ASSERT_RC(cio_write(c, chunk, len), 0);
        EVP_DigestUpdate(ctx, chunk, len);
        sent += len;
        ASSERT_RC(cio_drain(c), 0);
        cr_assert_leq(cio_write_buffer_size(c), CIO_TLS_DEFAULT_HIGH_WATER);
    }
    EVP_DigestFinal_ex(ctx, md, NULL);
    EVP_MD_CTX_free(ctx);
    free(chunk);
    /* No write_eof on TLS: our close_notify is the server's EOF, and its
     * close_notify comes once it has hashed everything. */
    ASSERT_RC(cio_write_eof(c), -ENOTSUP);
    cio_close(c);
    ASSERT_RC(cio_wait_closed(c), 0);
    cio_stream_release(c);
    server_done(srv);
    cr_assert_eq(memcmp(md, st.md, 32), 0, "SHA-256 differs");
    cr_assert_str_eq(st.peer, "CN=cio client,O=cio test");
    cr_assert_str_eq(st.alpn, "http/1.1");
    cio_tls_ctx_free(cc);
    cio_tls_ctx_free(sc);
    return 0;
}

TLS_TEST(tls_net, unix_sockets_need_server_hostname)
{
    struct echo_state st = {0};
    cio_tls_ctx *cc = tc_client("ca.pem", NULL, NULL), *sc = tc_server("server", 0, NULL);
    cio_server_opts so = CIO_SERVER_OPTS_INIT;
    so.tls = sc;
    cio_server *srv;
    const char *path = tc_path("tls.sock");
    ASSERT_RC(cio_start_unix_server(&srv, echo_handler, &st, path, &so), 0);
    cio_connect_opts o = CIO_CONNECT_OPTS_INIT;
    o.tls = cc;
    cio_stream *c;
    ASSERT_RC(cio_open_unix_connection(&c, path, &o), -EINVAL);
    o.server_hostname = "localhost";
    ASSERT_RC(cio_open_unix_connection(&c, path, &o), 0);
    echo_once(c, "over unix\n");
    cio_close(c);
    ASSERT_RC(cio_wait_closed(c), 0);
    cio_stream_release(c);
    server_done(srv);
    cio_tls_ctx_free(cc);
    cio_tls_ctx_free(sc);
    return 0;
}

TLS_TEST(tls_net, option_checks)
{
    cio_tls_ctx *cc = tc_client("ca.pem", NULL, NULL), *sc = tc_server("server", 0, NULL);
    cio_stream *c;
    cio_connect_opts o = CIO_CONNECT_OPTS_INIT;
    o.tls_handshake_timeout = 1; /* a TLS timeout without TLS */
    ASSERT_RC(cio_open_connection(&c, "127.0.0.1", 1, &o), -EINVAL);
    o = (cio_connect_opts)CIO_CONNECT_OPTS_INIT;
    o.server_hostname = "localhost"; /* a name without TLS */
    ASSERT_RC(cio_open_connection(&c, "127.0.0.1", 1, &o), -EINVAL);
    o.tls = cc;
    o.tls_shutdown_timeout = -1;
    ASSERT_RC(cio_open_connection(&c, "127.0.0.1", 1, &o), -EINVAL);
    cio_server_opts so = CIO_SERVER_OPTS_INIT;
    so.tls = cc; /* a client context cannot serve */
    cio_server *srv;
    ASSERT_RC(cio_start_server(&srv, echo_handler, NULL, "127.0.0.1", 0, &so), -EINVAL);
    so.tls = sc;
    so.tls_handshake_timeout = -1;
    ASSERT_RC(cio_start_server(&srv, echo_handler, NULL, "127.0.0.1", 0, &so), -EINVAL);
    cio_tls_ctx_free(cc);
    cio_tls_ctx_free(sc);
    return 0;
}

/* Send this process's stderr to a file (debug-mode lines), and back. */
static int stderr_to(const char *file)
{
    fflush(stderr);
    int saved = dup(2);
    int fd = open(tc_path(file), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    return saved;
}

static char *stderr_back(int saved, const char *file)
{
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    static char text[4096];
    FILE *f = fopen(tc_path(file), "r");
    cr_assert_not_null(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

TLS_TEST(tls_net, server_drops_failed_handshakes)
{
    /* Debug mode also says why each one failed (asyncio logs "SSL
     * handshake failed" in debug mode). */
    cio_set_debug(true);
    int saved = stderr_to("debug.log");
    struct echo_state st = {0};
    cio_tls_ctx *sc = tc_server("server", 0, NULL);
    cio_server *srv = tls_server(sc, &st, 0.3);
    uint16_t port = cio_server_port(srv);
    cio_stream *c;
    char buf[64];
    /* A plaintext client: the server gives up on it, the handler never runs. */
    ASSERT_RC(cio_open_connection(&c, "127.0.0.1", port, NULL), 0);
    ASSERT_RC(cio_write(c, "hello?\r\n", 8), 0);
    ssize_t n = cio_read(c, buf, sizeof(buf));
    cr_assert(n == 0 || n == -ECONNRESET, "read %zd", n);
    cio_stream_release(c);
    /* A silent client: dropped after the handshake timeout. */
    double t0 = cio_time();
    ASSERT_RC(cio_open_connection(&c, "127.0.0.1", port, NULL), 0);
    n = cio_read(c, buf, sizeof(buf));
    cr_assert(n == 0 || n == -ECONNRESET, "read %zd", n);
    double took = cio_time() - t0;
    cr_assert(took >= 0.25 && took < 3, "dropped after %.3f s", took);
    cio_stream_release(c);
    /* A TLS client that does not trust the server. */
    cio_tls_ctx *cc = tc_client("other_ca.pem", NULL, NULL);
    ASSERT_RC(tls_connect(&c, "127.0.0.1", port, cc, "localhost"), CIO_ETLSCERT);
    server_done(srv);
    cr_assert_eq(st.conns, 0);
    const char *log = stderr_back(saved, "debug.log");
    cr_assert_eq(count_of(log, "cio debug: cio-conn 127.0.0.1:"), 3, "%s", log);
    cr_assert_eq(count_of(log, ": TLS handshake failed: "), 3, "%s", log);
    cr_assert(strstr(log, cio_strerror(CIO_ETLSNOTLS)), "%s", log);
    cr_assert(strstr(log, cio_strerror(CIO_ETLSHANDSHAKE_TIMEOUT)), "%s", log);
    cr_assert(strstr(log, "unknown ca"), "%s", log); /* the client's alert */
    cio_tls_ctx_free(cc);
    cio_tls_ctx_free(sc);
    return 0;
}

/* ---- interop with the openssl command-line tool --------------------------------------- */

/* Start `openssl args...` with stdin from in_fd (or /dev/null), stdout to
 * the file out (in the cert dir), stderr to out.err. */
static pid_t openssl_spawn(const char *const *args, int in_fd, int out_fd, const char *out)
{
    char errname[64];
    snprintf(errname, sizeof(errname), "%s.err", out);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (in_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (out_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    else
        posix_spawn_file_actions_addopen(&fa, 1, tc_path(out), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, tc_path(errname), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char *argv[32] = {"openssl"};
    int n = 1;
    for (; args[n - 1] && n < 31; n++)
        argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    pid_t pid;
    int rc = posix_spawnp(&pid, "openssl", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "posix_spawnp openssl: %s", strerror(rc));
    return pid;
}

/* Wait (bounded) for pid to exit by itself; kill it if it does not.
 * Returns its exit status, or -1 if it had to be killed. */
static int reap(pid_t pid, double limit)
{
    int status;
    for (double t0 = cio_time(); cio_time() - t0 < limit;) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        cio_sleep(0.01);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

/* The port in s_server's line "ACCEPT 127.0.0.1:PORT" on fd (it listens
 * from then on; "Using default temp DH parameters" may come first); 0 if
 * its output ends without one. */
static uint16_t read_accept_port(int fd)
{
    static const char tag[] = "ACCEPT 127.0.0.1:";
    char buf[1024] = "";
    size_t n = 0;
    const char *p;
    while (!((p = strstr(buf, tag)) && strchr(p, '\n'))) {
        ssize_t k = n < sizeof(buf) - 1 ? read(fd, buf + n, sizeof(buf) - 1 - n) : 0;
        if (k < 0 && errno == EAGAIN && cio_wait_readable(fd) == 0)
            continue;
        if (k <= 0)
            return 0;
        n += (size_t)k;
        buf[n] = '\0';
    }
    return (uint16_t)atoi(p + strlen(tag));
}

TLS_TEST(tls_net, cio_client_against_openssl_s_server)
{
    cio_tls_ctx *cc = tc_client("ca.pem", NULL, "h2,http/1.1");
    cio_stream *c = NULL;
    /* s_server takes port 0 and prints the port it got. */
    const char *args[] = {"s_server",
                          "-accept",
                          "127.0.0.1:0",
                          "-cert",
                          tc_path("server.pem"),
                          "-key",
                          tc_path("server.key"),
                          "-rev",
                          "-alpn",
                          "http/1.1",
                          NULL};
    int out[2];
    cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
    pid_t pid = openssl_spawn(args, -1, out[1], "s_server.out");
    close(out[1]);
    cr_assert_eq(fcntl(out[0], F_SETFL, O_NONBLOCK), 0);
    uint16_t port = read_accept_port(out[0]);
    cr_assert_neq(port, 0, "s_server printed no ACCEPT line");
    ASSERT_RC(tls_connect(&c, "127.0.0.1", port, cc, "localhost"), 0);
    cr_assert_str_eq(cio_stream_tls_alpn(c), "http/1.1");
    char line[64];
    ASSERT_RC(cio_write(c, "hello\n", 6), 0);
    ASSERT_RC(cio_readline(c, line, sizeof(line)), 6);
    cr_assert_eq(memcmp(line, "olleh\n", 6), 0); /* -rev: it answers reversed */
    cio_close(c);
    int rc = cio_wait_closed(c);
    cr_assert(rc == 0 || rc == -ECONNRESET, "wait_closed: %s", cio_err_name(rc));
    cio_stream_release(c);
    kill(pid, SIGTERM);
    reap(pid, 5);
    close(out[0]);
    cio_tls_ctx_free(cc);
    return 0;
}

/* Run s_client against our server with line on its stdin; returns its
 * exit status, its stdout in out. */
static int run_s_client(uint16_t port, const char *cafile, const char *line, char *out, size_t cap)
{
    char connect[32];
    snprintf(connect, sizeof(connect), "127.0.0.1:%u", port);
    const char *args[] = {"s_client",
                          "-connect",
                          connect,
                          "-CAfile",
                          tc_path(cafile),
                          "-verify_return_error",
                          "-verify_hostname",
                          "localhost",
                          "-servername",
                          "localhost",
                          "-alpn",
                          "http/1.1",
                          "-quiet",
                          NULL};
    int in[2];
    cr_assert_eq(pipe(in), 0);
    pid_t pid = openssl_spawn(args, in[0], -1, "s_client.out");
    close(in[0]);
    cr_assert_eq(write(in[1], line, strlen(line)), (ssize_t)strlen(line));
    close(in[1]); /* -quiet ignores stdin EOF: it waits for us to close */
    int status = reap(pid, 15);
    FILE *f = fopen(tc_path("s_client.out"), "r");
    size_t n = f ? fread(out, 1, cap - 1, f) : 0;
    out[n] = '\0';
    if (f)
        fclose(f);
    return status;
}

TLS_TEST(tls_net, openssl_s_client_against_a_cio_server)
{
    struct echo_state st = {.one_line = true};
    cio_tls_ctx *sc = tc_server("server", 0, "h2,http/1.1");
    cio_server *srv = tls_server(sc, &st, 10);
    char out[256];
    ASSERT_RC(
        run_s_client(cio_server_port(srv), "ca.pem", "hello from s_client\n", out, sizeof(out)), 0);
    cr_assert_str_eq(out, "hello from s_client\n");
    cr_assert_eq(st.conns, 1);
    cr_assert_str_eq(st.alpn, "http/1.1");
    /* s_client refuses a server it cannot verify; our handler never runs. */
    int status = run_s_client(cio_server_port(srv), "other_ca.pem", "x\n", out, sizeof(out));
    cr_assert(status > 0, "s_client exited with %d", status);
    server_done(srv);
    cr_assert_eq(st.conns, 1);
    cio_tls_ctx_free(sc);
    return 0;
}
