/* Shared by the programs in bench/: the benchmark clock, the median of a
 * set of runs, and the startup of the network benches' servers.  Header
 * only (static inline): every bench stays one .c file, built on its own. */
#ifndef CIO_BENCH_UTIL_H
#define CIO_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cio.h>

/* The benchmark clock: the process's CPU time (user + system), so that
 * other load on the machine does not inflate the results; equal to wall
 * time on an idle machine, since nothing here blocks.  CIO_BENCH_CLOCK=wall
 * measures wall time instead. */
static inline int64_t now_ns(void)
{
    static int wall = -1;
    if (wall < 0) {
        const char *e = getenv("CIO_BENCH_CLOCK");
        wall = e && strcmp(e, "wall") == 0;
    }
    struct timespec ts;
    clock_gettime(wall ? CLOCK_MONOTONIC : CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0..n) (sorts v in place). */
static inline double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
    return v[n / 2];
}

/* ---- the network benches' servers ---------------------------------------- */

struct bench_server_args {
    const char *name; /* for the error message */
    cio_conn_handler handler;
    uint16_t port;
};

static inline intptr_t bench_serve_task(void *arg)
{
    const struct bench_server_args *a = arg;
    cio_server *srv;
    cio_server_opts opts = CIO_SERVER_OPTS_INIT;
    opts.backlog = 4096; /* as the peers use: scenario (c) opens 1000 connections at once */
    int rc = cio_start_server(&srv, a->handler, NULL, "127.0.0.1", a->port, &opts);
    if (rc) {
        fprintf(stderr, "%s: %s\n", a->name, cio_strerror(rc));
        return 1;
    }
    rc = cio_server_serve_forever(srv);
    cio_server_free(srv);
    return rc ? 1 : 0;
}

/* The main() of a server for bench/harness/run-peers.sh (usage: NAME PORT): serves
 * handler on 127.0.0.1:PORT until killed. */
static inline int bench_server_main(const char *name, cio_conn_handler handler, int argc,
                                    char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", name);
        return 2;
    }
    struct bench_server_args a = {name, handler, (uint16_t)atoi(argv[1])};
    return (int)cio_run(bench_serve_task, &a);
}

#endif
