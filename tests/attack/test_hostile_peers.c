/* Peers that misbehave, one at a time, each while a well-behaved client
 * must keep being served and the server's memory and fds stay bounded:
 *  - a client that sends and never reads: the server's drain blocks that
 *    one handler, its memory stays within the water marks;
 *  - an over-long line: the limit error, the line skipped without the
 *    buffer growing past the limit, the connection still usable and
 *    closed cleanly (EOF, not a reset) at the end;
 *  - resets in the middle of the server's writes and of a request;
 *  - half-closes: everything sent before the client's FIN is answered,
 *    then the server closes. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "attack.h"
#include "helpers.h" /* TEST_ASAN */

/* Peak RSS over a baseline.  Bounds only mean something without AddressSanitizer's quarantine. */
static void expect_rss_growth_below(long before, long after, long max_kib, const char *what)
{
    fprintf(stderr, "%s: server RSS %ld KiB, peak %ld KiB (+%ld)\n", what, before, after,
            after - before);
    if (!TEST_ASAN)
        cr_expect_lt(after - before, max_kib, "%s: server RSS grew by %ld KiB", what,
                     after - before);
}

Test(hostile, client_that_never_reads, .timeout = 60)
{
    struct atk_server srv;
    struct atk_server_cfg cfg = {.mode = ATK_ECHO};
    atk_server_start(&srv, &cfg);
    int good = atk_connect(srv.port);
    atk_echo_round(good, "hello\n");
    long rss0 = atk_rss_kib(srv.pid);
    atk_reset_peak_rss(srv.pid);

    /* Send until the kernel buffers on both sides and the server's write
     * queue are full: no progress for 500 ms. */
    int bad = atk_connect(srv.port);
    atk_set_nonblock(bad);
    static char chunk[65536];
    size_t sent = 0;
    for (;;) {
        ssize_t k = send(bad, chunk, sizeof(chunk), MSG_NOSIGNAL);
        if (k > 0) {
            sent += (size_t)k;
            continue;
        }
        cr_assert(k < 0 && errno == EAGAIN, "send: %s", strerror(errno));
        struct pollfd p = {.fd = bad, .events = POLLOUT};
        if (poll(&p, 1, 500) == 0)
            break;
    }
    double worst = 0;
    for (int i = 0; i < 50; i++) {
        double dt = atk_echo_round(good, "still served\n");
        worst = dt > worst ? dt : worst;
    }
    long rss1 = atk_peak_rss_kib(srv.pid);
    fprintf(stderr,
            "never-reading client: %zu bytes accepted before it stalled; good client's "
            "worst round trip %.3f ms\n",
            sent, worst * 1e3);
    cr_expect_lt(sent, (size_t)64 << 20, "the server kept reading from a client that never reads");
    cr_expect_lt(worst, 0.1, "the good client waited %.3f s", worst);
    /* The write queue stops at the high water mark (64 KiB) plus one
     * read's chunk; the reader stops at twice the limit. */
    expect_rss_growth_below(rss0, rss1, 1024, "never-reading client");

    long fds = atk_fd_count(srv.pid);
    atk_reset(bad);
    cr_expect_leq(atk_wait_fds(srv.pid, fds - 1, 5.0), fds - 1, "the handler did not end");
    close(good);
    atk_server_stop(&srv);
}

Test(hostile, oversized_line, .timeout = 60)
{
    struct atk_server srv;
    struct atk_server_cfg cfg = {.mode = ATK_LINE, .limit = 1024};
    atk_server_start(&srv, &cfg);
    int c = atk_connect(srv.port);
    atk_echo_round(c, "short\n");
    long rss0 = atk_rss_kib(srv.pid);
    atk_reset_peak_rss(srv.pid);

    /* 8 MiB without a newline, then its end and a normal line. */
    static char chunk[65536];
    memset(chunk, 'a', sizeof(chunk));
    for (int i = 0; i < 128; i++)
        atk_send_all(c, chunk, sizeof(chunk));
    atk_send_all(c, "\nok\n", 4);
    const char want[] = "error: line too long\nok\n";
    char got[sizeof(want)] = {0};
    cr_assert_eq(atk_recv_n(c, got, sizeof(want) - 1, 5.0), sizeof(want) - 1, "got \"%s\"", got);
    cr_expect_str_eq(got, want);
    long rss1 = atk_peak_rss_kib(srv.pid); /* the answer shows it read it all */
    expect_rss_growth_below(rss0, rss1, 1024, "8 MiB line against a 1 KiB limit");

    /* A clean close: after our FIN the server closes with a FIN too. */
    cr_assert_eq(shutdown(c, SHUT_WR), 0);
    size_t extra = 0;
    cr_expect_eq(atk_wait_peer_close(c, 5.0, &extra), 0, "not a clean EOF");
    cr_expect_eq(extra, 0);
    close(c);
    atk_server_stop(&srv);
}

Test(hostile, resets_mid_write_and_mid_request, .timeout = 60)
{
    struct atk_server srv;
    struct atk_server_cfg cfg = {.mode = ATK_LINE};
    atk_server_start(&srv, &cfg);
    int good = atk_connect(srv.port);
    atk_echo_round(good, "hello\n");
    long fds0 = atk_fd_count(srv.pid);
    char buf[65536];
    for (int i = 0; i < 20; i++) {
        /* The server is writing 64 MiB; we take 1 MiB and reset. */
        int c = atk_connect(srv.port);
        atk_send_all(c, "big 67108864\n", 13);
        cr_assert_eq(atk_recv_n(c, buf, sizeof(buf), 5.0), sizeof(buf));
        for (int k = 1; k < 16; k++)
            cr_assert_eq(atk_recv_n(c, buf, sizeof(buf), 5.0), sizeof(buf));
        atk_reset(c);
        /* Half a request, then a reset. */
        c = atk_connect(srv.port);
        atk_send_all(c, "half a li", 9);
        atk_reset(c);
        atk_echo_round(good, "between resets\n");
    }
    /* Every handler ended and released its fd. */
    cr_expect_leq(atk_wait_fds(srv.pid, fds0, 5.0), fds0, "fds leaked after resets");
    close(good);
    atk_server_stop(&srv);
}

Test(hostile, half_close, .timeout = 60)
{
    struct atk_server srv;
    struct atk_server_cfg cfg = {.mode = ATK_LINE};
    atk_server_start(&srv, &cfg);
    /* Three lines and a partial last one, then our FIN: the server
     * answers all four (readline returns the partial line at EOF), then
     * closes. */
    const char req[] = "one\ntwo\nthree\nfour without newline";
    int c = atk_connect(srv.port);
    atk_send_all(c, req, sizeof(req) - 1);
    cr_assert_eq(shutdown(c, SHUT_WR), 0);
    char got[sizeof(req)] = {0};
    cr_assert_eq(atk_recv_n(c, got, sizeof(req) - 1, 5.0), sizeof(req) - 1, "got \"%s\"", got);
    cr_expect_str_eq(got, req);
    cr_expect_eq(atk_wait_peer_close(c, 5.0, NULL), 0, "no EOF after the answers");
    close(c);
    atk_server_stop(&srv);
}
