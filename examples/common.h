/* What every example needs and none of them is about: the command line,
 * one-line error messages, the "listening on" line, graceful shutdown on
 * SIGINT/SIGTERM and a server TLS context from --tls-cert/--tls-key.
 *
 * Conventions the examples share (scripts and tests rely on them):
 *  - --help prints usage on stdout and exits 0; a bad command line prints
 *    the reason on stderr and exits 2; any other failure exits 1 with one
 *    line "PROGRAM: what: why" on stderr.
 *  - Servers take --host (default 127.0.0.1) and --port (0 picks a free
 *    port), print "listening on HOST:PORT" as their first line (flushed),
 *    and shut down gracefully on SIGINT or SIGTERM, exiting 0. */
#ifndef CIO_EXAMPLES_COMMON_H
#define CIO_EXAMPLES_COMMON_H

#include <cio.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

static const char *ex_prog = "example"; /* set by ex_parse */
static bool ex_debug;                   /* --debug: cio's debug mode */

/* "PROGRAM: what: why" on stderr; returns 1, the exit status of a failure. */
static inline int ex_fail(const char *what, int err)
{
    fprintf(stderr, "%s: %s: %s\n", ex_prog, what, cio_strerror(err));
    return 1;
}

/* ex_fail, with OpenSSL's reason for TLS errors (of stream s, or with s
 * NULL of the last failure in this thread). */
static inline int ex_fail_tls(const char *what, int err, const cio_stream *s)
{
    if (err > CIO_ETLS || err < CIO_ETLSNOTLS || !*cio_tls_error_reason(s))
        return ex_fail(what, err);
    fprintf(stderr, "%s: %s: %s (%s)\n", ex_prog, what, cio_strerror(err), cio_tls_error_reason(s));
    return 1;
}

/* ---- command line ---------------------------------------------------------- */

enum ex_kind { EX_FLAG, EX_STR, EX_PORT, EX_SECONDS, EX_COUNT };

/* One option: "--name METAVAR" with a value of the given kind stored in
 * *dst (bool for EX_FLAG, which has no metavar, const char * for EX_STR,
 * uint16_t for EX_PORT, double > 0 for EX_SECONDS, long >= 1 for
 * EX_COUNT). */
typedef struct ex_opt {
    const char *name, *metavar;
    enum ex_kind kind;
    void *dst;
    const char *help;
} ex_opt;

static inline void ex_usage(const char *synopsis, const char *about, const ex_opt *opts)
{
    printf("usage: %s %s\n\n%s\n\noptions:\n", ex_prog, synopsis, about);
    for (const ex_opt *o = opts; o->name; o++) {
        char left[40];
        snprintf(left, sizeof(left), "%s %s", o->name, o->metavar ? o->metavar : "");
        printf("  %-22s %s\n", left, o->help);
    }
    printf("  %-22s %s\n", "--debug", "report streams left open at exit (also CIO_DEBUG=1)");
    printf("  %-22s %s\n", "--help", "show this help and exit");
}

static inline void ex_bad_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", ex_prog);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (try --help)\n");
    exit(2);
}

static inline void ex_set(const ex_opt *o, const char *v)
{
    char *end;
    errno = 0;
    switch (o->kind) {
    case EX_FLAG:
        *(bool *)o->dst = true;
        return;
    case EX_STR:
        *(const char **)o->dst = v;
        return;
    case EX_PORT: {
        unsigned long n = strtoul(v, &end, 10);
        if (errno || end == v || *end || n > 65535 || v[0] == '-')
            ex_bad_usage("bad port '%s'", v);
        *(uint16_t *)o->dst = (uint16_t)n;
        return;
    }
    case EX_SECONDS: {
        double d = strtod(v, &end);
        if (errno || end == v || *end || !(d > 0) || !isfinite(d))
            ex_bad_usage("bad number of seconds '%s'", v);
        *(double *)o->dst = d;
        return;
    }
    case EX_COUNT: {
        long n = strtol(v, &end, 10);
        if (errno || end == v || *end || n < 1)
            ex_bad_usage("bad count '%s'", v);
        *(long *)o->dst = n;
        return;
    }
    }
}

/* Parse argv against opts (terminated by an entry with a NULL name) with
 * getopt_long: "--port 8888", "--port=8888" and unambiguous prefixes
 * ("--po 8888"); options come before the positional arguments, and "--"
 * ends them.  Returns the index of the first positional argument.  --help
 * prints the usage and exits 0; errors exit 2. */
static inline int ex_parse(int argc, char **argv, const char *synopsis, const char *about,
                           const ex_opt *opts)
{
    const char *slash = strrchr(argv[0], '/');
    ex_prog = slash ? slash + 1 : argv[0];
    /* Servers log as they go: each line should reach a pipe (a script
     * waiting for "listening on") at once, not when a buffer fills. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    enum { HELP = 256, DEBUG, FIRST }; /* getopt_long's val: FIRST + index in opts */
    struct option lo[32] = {{0}}; /* opts, --help, --debug, the terminator */
    size_t n = 0;
    while (opts[n].name)
        n++;
    if (n + 3 > sizeof(lo) / sizeof(lo[0])) {
        fprintf(stderr, "%s: too many options for ex_parse\n", ex_prog);
        exit(2);
    }
    for (size_t k = 0; k < n; k++)
        lo[k] = (struct option){opts[k].name + 2, opts[k].kind == EX_FLAG ? no_argument : required_argument,
                                NULL, FIRST + (int)k};
    lo[n] = (struct option){"help", no_argument, NULL, HELP};
    lo[n + 1] = (struct option){"debug", no_argument, NULL, DEBUG};
    opterr = 0; /* our messages, below */
    int c;
    /* "+": stop at the first positional argument; ":": report a missing value. */
    while ((c = getopt_long(argc, argv, "+:", lo, NULL)) != -1) {
        if (c == HELP) {
            ex_usage(synopsis, about, opts);
            exit(0);
        } else if (c == DEBUG) {
            ex_debug = true;
        } else if (c == ':') {
            ex_bad_usage("%s needs a value", argv[optind - 1]);
        } else if (c == '?') {
            ex_bad_usage("unknown or ambiguous option %s", argv[optind - 1]);
        } else {
            ex_set(&opts[c - FIRST], optarg);
        }
    }
    return optind;
}

/* ex_parse for a program that takes options only: a positional argument
 * is a usage error. */
static inline void ex_parse_options(int argc, char **argv, const char *about, const ex_opt *opts)
{
    int i = ex_parse(argc, argv, "[options]", about, opts);
    if (i != argc)
        ex_bad_usage("unexpected argument '%s'", argv[i]);
}

/* asyncio.run(main(), debug=...): main_task's result is the exit status;
 * a loop that cannot even start is a failure too. */
static inline int ex_run(cio_task_fn main_task)
{
    cio_run_opts o = {.debug = ex_debug};
    intptr_t rc = cio_run_with(main_task, NULL, &o);
    return rc < 0 ? ex_fail("cio_run", (int)rc) : (int)rc;
}

/* ---- servers ----------------------------------------------------------------- */

/* The options every server takes, in its ex_opt table: --host and --port
 * (into a const char * and a uint16_t), and --tls-cert/--tls-key for
 * ex_server_tls (`what`: the protocol served, "TLS" or "HTTPS"). */
/* clang-format off */
#define EX_OPTS_LISTEN(host, port)                                                                 \
    {"--host", "HOST", EX_STR, host, "address to listen on (default 127.0.0.1)"},                  \
    {"--port", "PORT", EX_PORT, port, "port; 0 picks a free one (default 0)"}
#define EX_OPTS_TLS(cert, key, what)                                                               \
    {"--tls-cert", "FILE", EX_STR, cert, "serve " what " with this certificate (PEM)"},            \
    {"--tls-key", "FILE", EX_STR, key, "and this private key (PEM)"}
/* clang-format on */

/* The first line a server prints: "listening on 127.0.0.1:PORT". */
static inline int ex_print_listening(const cio_server *srv)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char addr[80];
    int rc = cio_server_sockname(srv, 0, (struct sockaddr *)&ss, &len);
    if (rc == 0)
        rc = cio_addr_format((struct sockaddr *)&ss, len, addr, sizeof(addr));
    if (rc < 0)
        return ex_fail("listening address", rc);
    printf("listening on %s\n", addr);
    return 0;
}

/* The peer's address as text ("127.0.0.1:40312"), for log lines. */
static inline void ex_peer(const cio_stream *s, char *buf, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (cio_stream_peername(s, (struct sockaddr *)&ss, &len) < 0 ||
        cio_addr_format((struct sockaddr *)&ss, len, buf, cap) < 0)
        snprintf(buf, cap, "?");
}

/* --tls-cert FILE --tls-key FILE: a server TLS context in *out, or NULL
 * when neither is given.  Returns 0 or the exit status of a failure. */
static inline int ex_server_tls(const char *cert, const char *key, cio_tls_ctx **out)
{
    *out = NULL;
    if (!cert && !key)
        return 0;
    if (!cert || !key) {
        fprintf(stderr, "%s: --tls-cert and --tls-key go together\n", ex_prog);
        return 2;
    }
    cio_tls_server_opts o = CIO_TLS_SERVER_OPTS_INIT;
    o.certfile = cert;
    o.keyfile = key;
    int rc = cio_tls_server_ctx(out, &o);
    return rc ? ex_fail_tls("--tls-cert/--tls-key", rc, NULL) : 0;
}

/* --cafile FILE: a client TLS context in *out that trusts the CAs in FILE
 * (NULL: the system's store).  Returns 0 or the exit status of a failure. */
static inline int ex_client_tls(const char *cafile, cio_tls_ctx **out)
{
    cio_tls_client_opts o = CIO_TLS_CLIENT_OPTS_INIT;
    o.cafile = cafile;
    int rc = cio_tls_client_ctx(out, &o);
    if (rc) {
        fprintf(stderr, "%s: %s: %s (%s)\n", ex_prog, cafile ? cafile : "CA store",
                cio_strerror(rc), cio_tls_error_reason(NULL));
        return 1;
    }
    return 0;
}

/* ---- graceful shutdown on SIGINT / SIGTERM ------------------------------------
 *
 * asyncio: loop.add_signal_handler(signal.SIGTERM, server.close).
 *
 * cio has no signal API yet, so the signals are read from a signalfd that
 * a task waits on.  For that they must be blocked in every thread, or the
 * kernel may deliver one with its default action (death) to a thread that
 * does not block it — cio's thread pool, say.  Threads inherit the mask of
 * their creator, hence ex_block_signals() first thing in main(). */

static inline void ex_signal_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
}

static inline void ex_block_signals(void)
{
    sigset_t set;
    ex_signal_set(&set);
    sigprocmask(SIG_BLOCK, &set, NULL);
}

static struct {
    int fd; /* the signalfd */
    cio_server *srv;
} ex_sig;

static inline intptr_t ex_signal_task(void *arg)
{
    (void)arg;
    struct signalfd_siginfo si;
    /* Returns -ECANCELED when the program ends without a signal. */
    while (cio_wait_readable(ex_sig.fd) == 0) {
        if (read(ex_sig.fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
            printf("%s: shutting down\n", strsignal((int)si.ssi_signo));
            cio_server_close(ex_sig.srv); /* serve_forever returns */
            break;
        }
    }
    close(ex_sig.fd);
    return 0;
}

/* Close srv when SIGINT or SIGTERM arrives (see above).  The watching
 * task ends with the first signal, or is cancelled when main returns; a
 * second signal finds the signals still blocked and does nothing: the
 * server's grace period is what bounds its shutdown. */
static inline int ex_close_on_signal(cio_server *srv)
{
    sigset_t set;
    ex_signal_set(&set);
    ex_sig.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (ex_sig.fd < 0)
        return ex_fail("signalfd", -errno);
    ex_sig.srv = srv;
    int rc = cio_spawn(NULL, ex_signal_task, NULL, &(cio_task_opts){.name = "signals"});
    if (rc) {
        close(ex_sig.fd);
        return ex_fail("spawn", rc);
    }
    return 0;
}

/* async with server: await server.serve_forever() — with the "listening
 * on" line first and the server closed by SIGINT/SIGTERM.  Once it is
 * closed, shut_down(srv) deals with the connections left (the example's
 * own graceful shutdown); then srv is freed.  Returns 0 or the exit
 * status of a failure. */
static inline int ex_serve_forever(cio_server *srv, void (*shut_down)(cio_server *srv))
{
    int rc;
    if ((rc = ex_print_listening(srv)) == 0 && (rc = ex_close_on_signal(srv)) == 0) {
        rc = cio_server_serve_forever(srv); /* until a signal closes the server */
        if (rc)
            rc = ex_fail("serve_forever", rc);
        shut_down(srv);
    }
    cio_server_free(srv);
    return rc;
}

#endif
