/* The soak test (tests/soak/, docs/reliability.md "Soak"): one process
 * runs echo and line servers built on cio over TCP, Unix and TLS, another
 * drives N connections against them for a given time and checks every
 * payload by hash.  This header is what the three files share. */
#ifndef CIO_SOAK_H
#define CIO_SOAK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cio.h"

#define SOAK_MAX_MSG (256u * 1024u) /* largest message, newline included */
#define SOAK_MAX_CHUNK (16u * 1024u)

/* The six services: transport x server kind. */
enum soak_transport { SOAK_TCP, SOAK_UNIX, SOAK_TLS, SOAK_NTRANSPORTS };
enum soak_kind { SOAK_ECHO, SOAK_LINE, SOAK_NKINDS };
#define SOAK_NSERVICES (SOAK_NTRANSPORTS * SOAK_NKINDS)

/* Where the server listens; filled by the server process, read by the
 * load side.  Unix paths are "<dir>/echo.sock" and "<dir>/line.sock". */
struct soak_addrs {
    uint16_t port[SOAK_NSERVICES]; /* 0 for the Unix services */
};

static inline int soak_service(enum soak_transport t, enum soak_kind k)
{
    return (int)t * SOAK_NKINDS + (int)k;
}

/* Counts of results by error code (0 = success) for the report. */
#define SOAK_MAX_KINDS 16
struct soak_tally {
    int code[SOAK_MAX_KINDS];
    uint64_t count[SOAK_MAX_KINDS];
    size_t n;
};
void soak_tally_add(struct soak_tally *t, int code);
/* " ECONNRESET=3 EPIPE=1", or " none". */
void soak_tally_print(const struct soak_tally *t, const char *label);

/* Server process: listens on every service (Unix sockets in dir, TLS with
 * cert/key), writes struct soak_addrs to ready_fd, serves until stop_fd
 * reads EOF, then prints how its handlers ended and returns an exit
 * status. */
int soak_server_main(int ready_fd, int stop_fd, const char *dir, const char *cert, const char *key);

/* Load side: the results it reports. */
struct soak_load_cfg {
    unsigned conns;
    double seconds;
    uint64_t seed;
    const char *dir, *cafile;
    struct soak_addrs addrs;
    int server_pid;
};
struct soak_load_result {
    uint64_t messages, bytes_sent, bytes_echoed;
    uint64_t conns_closed, conns_half_closed, conns_reset;
    uint64_t mismatches, lost_bytes;
    struct soak_tally errors; /* unexpected failures, by code */
    /* server samples every 5 s: t, RSS (KiB), open fds */
    size_t nsamples;
    double sample_t[512];
    long sample_rss[512], sample_fds[512];
};
int soak_load_run(const struct soak_load_cfg *cfg, struct soak_load_result *res);

#endif
