/* fd exhaustion: a server limited to 64 open files is flooded with 80
 * connections.  While it cannot accept, an established client must keep
 * getting its echoes and the server must not spin (under 10% of a CPU
 * while it waits for fds).  Once the connections it accepted go away, it
 * must accept the ones still queued, and then a new client, within the
 * accept pause (1 s) and 0.5 s. */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "attack.h"

#define NOFILE 64
#define FLOOD 80   /* about 50 accepted, 30 queued: fewer than the fds freed */
#define MARGIN 1.5 /* the accept pause and 0.5 s */
#define WAIT_SECONDS 3.0

Test(fd_exhaustion, established_served_no_spin_accepts_again, .timeout = 60)
{
    atk_raise_nofile(FLOOD + 100);
    struct atk_server srv;
    struct atk_server_cfg cfg = {.mode = ATK_LINE, .nofile = NOFILE};
    atk_server_start(&srv, &cfg);
    int good = atk_connect(srv.port);
    atk_echo_round(good, "before\n");

    /* The kernel completes every handshake into the backlog; the server
     * accepts until EMFILE.  Each flood connection sends a line. */
    int flood[FLOOD];
    for (int i = 0; i < FLOOD; i++) {
        flood[i] = atk_connect(srv.port);
        atk_send_all(flood[i], "flood\n", 6);
    }
    /* The first connections the server could accept are answered; wait
     * for one, then until its fd table is full. */
    char b[6];
    cr_assert_eq(atk_recv_n(flood[0], b, sizeof(b), 5.0), sizeof(b));
    double deadline = atk_now() + 5.0;
    while (atk_fd_count(srv.pid) < NOFILE - 8 && atk_now() < deadline)
        poll(NULL, 0, 10); /* polls a condition with a deadline */
    cr_assert_geq(atk_fd_count(srv.pid), NOFILE - 8, "the server's fds are not exhausted");

    double cpu0 = atk_cpu_seconds(srv.pid), t0 = atk_now();
    int rounds = 0;
    while (atk_now() - t0 < WAIT_SECONDS) {
        atk_echo_round(good, "still served\n");
        rounds++;
        poll(NULL, 0, 100); /* pacing: one request per 100 ms */
    }
    double cpu = (atk_cpu_seconds(srv.pid) - cpu0) / (atk_now() - t0);
    fprintf(stderr,
            "fd exhaustion: server at %ld fds, %.1f%% CPU over %.1f s while flooded; %d echoes "
            "served meanwhile\n",
            atk_fd_count(srv.pid), cpu * 100, WAIT_SECONDS, rounds);
    cr_expect_lt(cpu, 0.10, "the server spins: %.1f%% CPU", cpu * 100);

    /* Close the connections the server accepted (their echo came back;
     * flood[0]'s was read above);
     * the queued ones must then be accepted and served. */
    int queued[FLOOD], nq = 0;
    for (int i = 0; i < FLOOD; i++)
        if (i == 0 || recv(flood[i], b, sizeof(b), MSG_DONTWAIT) == (ssize_t)sizeof(b))
            close(flood[i]);
        else
            queued[nq++] = flood[i];
    cr_assert_gt(nq, 0, "the flood did not exhaust the server's fds");
    double t1 = atk_now();
    for (int i = 0; i < nq; i++) {
        cr_expect_eq(atk_recv_n(queued[i], b, sizeof(b), t1 + MARGIN - atk_now()), sizeof(b),
                     "queued connection %d of %d not served within %.1f s", i, nq, MARGIN);
        close(queued[i]);
    }
    double dt_queued = atk_now() - t1;
    int late = atk_connect(srv.port);
    double dt_new = atk_echo_round(late, "after\n");
    close(late);
    fprintf(stderr,
            "fd exhaustion: the %d queued connections served %.3f s after fds were freed; a new "
            "client then in %.3f s\n",
            nq, dt_queued, dt_new);
    cr_expect_lt(dt_new, MARGIN, "accepting a new client took %.3f s", dt_new);
    atk_echo_round(good, "after\n");
    close(good);
    atk_server_stop(&srv);
}
