/* The attack tests (tests/attack/, docs/reliability.md "Attacks"): a cio
 * server in a child process, so its memory, fds and CPU time can be read
 * from /proc, and hostile clients made of plain sockets in the test
 * process.  This header is what the test files share. */
#ifndef CIO_ATTACK_H
#define CIO_ATTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

/* What the server does with a connection. */
enum atk_mode {
    ATK_ECHO, /* read, write, drain until EOF */
    /* readline; an over-long line is answered "error: line too long\n"
     * and the rest of it skipped; "big N\n" is answered with N bytes;
     * any other line is echoed. */
    ATK_LINE,
};

struct atk_server_cfg {
    enum atk_mode mode;
    long limit;               /* reader limit; 0: the default */
    bool tls;                 /* also serve TLS (throwaway certificate) */
    double handshake_timeout; /* 0: the default */
    long nofile;              /* RLIMIT_NOFILE of the server; 0: unchanged */
};

struct atk_server {
    pid_t pid;
    int stop_fd;
    uint16_t port;     /* plain listener */
    uint16_t tls_port; /* TLS listener (cfg.tls), same handler */
    char dir[32];      /* certificate directory when TLS */
};

/* Fork and start the server; asserts it listens.  atk_server_stop closes
 * the stop pipe, waits for the server and asserts it exited 0. */
void atk_server_start(struct atk_server *srv, const struct atk_server_cfg *cfg);
void atk_server_stop(struct atk_server *srv);

/* /proc readings of a process: resident KiB (now, and the peak since
 * start or since atk_reset_peak_rss), open fds, CPU time in seconds (user
 * + system). */
long atk_rss_kib(pid_t pid);
long atk_peak_rss_kib(pid_t pid);
void atk_reset_peak_rss(pid_t pid);
long atk_fd_count(pid_t pid);
double atk_cpu_seconds(pid_t pid);
double atk_now(void); /* monotonic seconds */

/* A blocking TCP connection to 127.0.0.1:port (asserting success), or
 * -errno with atk_try_connect. */
int atk_connect(uint16_t port);
int atk_try_connect(uint16_t port);
void atk_set_nonblock(int fd);
/* Write all of buf (blocking fd); asserts. */
void atk_send_all(int fd, const void *buf, size_t n);
/* Read exactly n bytes within timeout seconds; returns the count read
 * (less on EOF, error or timeout). */
size_t atk_recv_n(int fd, void *buf, size_t n, double timeout);
/* Wait up to timeout seconds for the peer to close: returns 0 on EOF,
 * -ECONNRESET on a reset, -ETIMEDOUT if still open; data read on the way
 * is discarded and counted in *drained (may be NULL). */
int atk_wait_peer_close(int fd, double timeout, size_t *drained);
/* Send line (with its '\n') and read the same bytes back; returns the
 * round trip in seconds, asserting the echo. */
double atk_echo_round(int fd, const char *line);
/* Close with SO_LINGER 0: the peer gets a reset. */
void atk_reset(int fd);
/* Raise this process's RLIMIT_NOFILE to want (or its hard limit). */
void atk_raise_nofile(long want);

/* Wait up to timeout seconds until pid has at most want open fds;
 * returns the last count. */
long atk_wait_fds(pid_t pid, long want, double timeout);

/* TLS clients (attack_tls.c): a client context trusting the server's
 * throwaway certificate; a connection stalled after sending its
 * ClientHello (all of it, or only its first `cut` bytes), returning the
 * fd; a full handshake, returning the SSL (its fd: SSL_get_fd). */
SSL_CTX *atk_tls_client_ctx(const struct atk_server *srv);
int atk_tls_stalled(SSL_CTX *ctx, uint16_t port, size_t cut);
SSL *atk_tls_connect(SSL_CTX *ctx, uint16_t port);
/* SSL_write + SSL_read of line, asserting the echo. */
void atk_tls_echo(SSL *ssl, const char *line);
/* SSL_free and close its fd. */
void atk_tls_close(SSL *ssl);

#endif
