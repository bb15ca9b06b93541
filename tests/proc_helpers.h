/* Child processes for the tests that run programs as they are
 * (test_examples.c, test_http_examples.c): spawn, run to completion
 * within a deadline, start a server example and take its port from its
 * "listening on" line, stop it and check its exit; a temporary directory
 * and throwaway certificates.
 *
 * The including file defines STEP (seconds: the bound of any one step)
 * and installs proc_teardown() as its tests' .fini: every child is killed
 * (its whole process group) and reaped even when an assertion fails, and
 * dies with the test process anyway (PR_SET_PDEATHSIG). */
#ifndef CIO_TEST_PROC_HELPERS_H
#define CIO_TEST_PROC_HELPERS_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef STEP
#error "define STEP (seconds) before including proc_helpers.h"
#endif

#define EX(name) CIO_TEST_BINARY_DIR "/examples/" name

static pid_t kids[16];
static int nkids;
static char tmpdir[64];

static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void proc_teardown(void)
{
    for (int i = 0; i < nkids; i++) {
        if (kids[i] > 0) {
            kill(-kids[i], SIGKILL); /* its group: the demo's servers too */
            waitpid(kids[i], NULL, 0);
        }
    }
    nkids = 0;
    if (tmpdir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        cr_expect_eq(system(cmd), 0);
        tmpdir[0] = '\0';
    }
}

static inline void reaped(pid_t pid)
{
    for (int i = 0; i < nkids; i++)
        if (kids[i] == pid)
            kids[i] = 0;
}

/* Start argv with stdin/stdout/stderr on in/out/err (stdin -1: /dev/null;
 * stdout, stderr -1: inherited), signals as a shell would leave them, in
 * a process group of its own that the teardown can kill whole. */
static inline pid_t spawn(char *const argv[], int in, int out, int err)
{
    cr_assert_lt(nkids, (int)(sizeof(kids) / sizeof(kids[0])));
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* Async-signal-safe calls only from here: the parent may have threads. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent || setpgid(0, 0) < 0)
            _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        if (in < 0)
            in = open("/dev/null", O_RDONLY);
        if (in < 0 || dup2(in, 0) < 0 || (out >= 0 && dup2(out, 1) < 0) ||
            (err >= 0 && dup2(err, 2) < 0))
            _exit(127);
        execvp(argv[0], argv);
        _exit(127);
    }
    setpgid(pid, pid); /* as the child does: whichever runs first */
    kids[nkids++] = pid;
    return pid;
}

/* Read fd into buf (NUL-terminated, *len so far) until EOF or deadline;
 * false on timeout.  A full buffer is an error: output must stay small. */
static inline bool drain_until(int fd, char *buf, size_t cap, size_t *len, double deadline,
                               bool *eof)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    double left = deadline - now();
    if (left <= 0 || poll(&p, 1, (int)(left * 1000) + 1) <= 0)
        return false;
    cr_assert_lt(*len, cap - 1, "too much output:\n%s", buf);
    ssize_t n = read(fd, buf + *len, cap - 1 - *len);
    cr_assert_geq(n, 0, "read: %s", strerror(errno));
    *eof = n == 0;
    *len += (size_t)n;
    buf[*len] = '\0';
    return true;
}

/* ---- programs run to completion ---------------------------------------------- */

struct result {
    int status;
    char out[64 * 1024], err[8 * 1024];
};

/* Run argv to completion within `seconds`: stdout, stderr, status. */
static inline void run_for(char *const argv[], struct result *r, double seconds)
{
    int o[2], e[2];
    cr_assert_eq(pipe2(o, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(e, O_CLOEXEC), 0);
    pid_t pid = spawn(argv, -1, o[1], e[1]);
    close(o[1]);
    close(e[1]);
    size_t olen = 0, elen = 0;
    bool oeof = false, eeof = false;
    double deadline = now() + seconds;
    r->out[0] = r->err[0] = '\0';
    while (!oeof || !eeof) {
        struct pollfd p[2] = {{.fd = oeof ? -1 : o[0], .events = POLLIN},
                              {.fd = eeof ? -1 : e[0], .events = POLLIN}};
        double left = deadline - now();
        cr_assert(left > 0 && poll(p, 2, (int)(left * 1000) + 1) > 0,
                  "%s did not finish in %g s; stdout:\n%s\nstderr:\n%s", argv[0], seconds, r->out,
                  r->err);
        if (p[0].revents)
            drain_until(o[0], r->out, sizeof(r->out), &olen, deadline, &oeof);
        if (p[1].revents)
            drain_until(e[0], r->err, sizeof(r->err), &elen, deadline, &eeof);
    }
    close(o[0]);
    close(e[0]);
    cr_assert_eq(waitpid(pid, &r->status, 0), pid);
    reaped(pid);
}

static inline void run(char *const argv[], struct result *r)
{
    run_for(argv, r, STEP);
}

/* status is a normal exit with `code`; log is shown otherwise. */
static inline void assert_status(int status, int code, const char *log)
{
    cr_assert(WIFEXITED(status), "killed by signal %d; output:\n%s",
              WIFSIGNALED(status) ? WTERMSIG(status) : 0, log);
    cr_assert_eq(WEXITSTATUS(status), code, "exit status %d, not %d; output:\n%s",
                 WEXITSTATUS(status), code, log);
}

static inline void assert_exit(const struct result *r, int code)
{
    cr_assert(WIFEXITED(r->status) && WEXITSTATUS(r->status) == code,
              "status 0x%x, expected exit %d; stdout:\n%s\nstderr:\n%s", r->status, code, r->out,
              r->err);
}

/* stderr is exactly one line, containing `part`. */
static inline void assert_one_line(const struct result *r, const char *part)
{
    const char *nl = strchr(r->err, '\n');
    cr_assert(nl && nl[1] == '\0', "stderr is not one line: \"%s\"", r->err);
    cr_assert(strstr(r->err, part), "stderr lacks \"%s\": %s", part, r->err);
}

static inline bool have(const char *prog)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
    return system(cmd) == 0;
}

/* ---- servers (and other children read as they run) ------------------------------ */

typedef struct child {
    pid_t pid;
    int out;          /* read end of its stdout; -1 after EOF */
    char log[65536];  /* everything it printed, NUL-terminated */
    size_t len, next; /* bytes in log; start of the first line not yet taken */
} child;

/* Start argv with its stdout on a pipe read through c, stderr on err. */
static inline void child_start(child *c, char *const argv[], int err)
{
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    memset(c, 0, sizeof(*c));
    c->pid = spawn(argv, -1, p[1], err);
    close(p[1]);
    c->out = p[0];
}

/* Read what c has printed, waiting until deadline; false on timeout. */
static inline bool child_read(child *c, double deadline)
{
    if (c->out < 0)
        return true;
    bool eof;
    if (!drain_until(c->out, c->log, sizeof(c->log), &c->len, deadline, &eof))
        return false;
    if (eof) {
        close(c->out);
        c->out = -1;
    }
    return true;
}

/* The next line c prints (without its newline), within STEP seconds. */
static inline const char *child_line(child *c)
{
    static char line[1024];
    double deadline = now() + STEP;
    char *nl;
    while (!(nl = strchr(c->log + c->next, '\n'))) {
        cr_assert(c->out >= 0, "%d ended; it printed:\n%s", (int)c->pid, c->log);
        cr_assert(child_read(c, deadline), "%d printed no line in %g s", (int)c->pid, STEP);
    }
    size_t n = (size_t)(nl - (c->log + c->next));
    cr_assert_lt(n, sizeof(line));
    memcpy(line, c->log + c->next, n);
    line[n] = '\0';
    c->next += n + 1;
    return line;
}

/* Read c's output to EOF and reap it, within `seconds`; its status. */
static inline int child_wait_within(child *c, double seconds)
{
    double deadline = now() + seconds;
    while (c->out >= 0)
        cr_assert(child_read(c, deadline), "%d did not exit in %g s; it printed:\n%s", (int)c->pid,
                  seconds, c->log);
    int status;
    cr_assert_eq(waitpid(c->pid, &status, 0), c->pid);
    reaped(c->pid);
    return status;
}

static inline int child_wait(child *c)
{
    return child_wait_within(c, STEP);
}

/* A server example: started with its stderr on err (-1: ours), its port
 * taken from its first line, "listening on 127.0.0.1:PORT". */
static inline uint16_t server_start_err(child *c, char *const argv[], int err)
{
    child_start(c, argv, err);
    const char *first = child_line(c);
    const char *want = "listening on 127.0.0.1:";
    cr_assert_eq(strncmp(first, want, strlen(want)), 0, "first line: %s", first);
    long port = strtol(first + strlen(want), NULL, 10);
    cr_assert(port > 0 && port < 65536, "first line: %s", first);
    return (uint16_t)port;
}

static inline uint16_t server_start(child *c, char *const argv[])
{
    return server_start_err(c, argv, -1);
}

/* sig (SIGTERM or SIGINT), then a clean exit 0 within `seconds`. */
static inline void server_stop_within(child *c, int sig, double seconds)
{
    cr_assert_eq(kill(c->pid, sig), 0);
    assert_status(child_wait_within(c, seconds), 0, c->log);
}

static inline void server_stop(child *c, int sig)
{
    server_stop_within(c, sig, STEP);
}

/* ---- files and sockets ------------------------------------------------------------ */

/* The path of a file in a fresh temporary directory (removed by the
 * teardown); static rotating buffers. */
static inline char *in_tmp(const char *file)
{
    static char bufs[8][128];
    static int i;
    if (!tmpdir[0]) {
        strcpy(tmpdir, "/tmp/cio-examples-XXXXXX");
        cr_assert_not_null(mkdtemp(tmpdir));
    }
    char *b = bufs[i++ % 8];
    snprintf(b, sizeof(bufs[0]), "%s/%s", tmpdir, file);
    return b;
}

/* A throwaway self-signed certificate in the temporary directory:
 * NAME.pem and NAME.key, for the common name cn and subjectAltName san. */
static inline void make_cert(const char *name, const char *cn, const char *san)
{
    char subj[64], ext[128], key[48], cert[48];
    snprintf(subj, sizeof(subj), "/CN=%s", cn);
    snprintf(ext, sizeof(ext), "subjectAltName=%s", san);
    snprintf(key, sizeof(key), "%s.key", name);
    snprintf(cert, sizeof(cert), "%s.pem", name);
    static struct result r;
    run((char *[]){"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                   "ec_paramgen_curve:P-256", "-nodes", "-subj", subj, "-addext", ext, "-days", "1",
                   "-keyout", in_tmp(key), "-out", in_tmp(cert), NULL},
        &r);
    assert_exit(&r, 0);
}

/* A loopback TCP socket on a free port: listening (never accepting) or
 * only bound (connecting to it is refused). */
static inline int loopback_socket(bool listening, uint16_t *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, len), 0);
    cr_assert_eq(listening ? listen(fd, 8) : 0, 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

#endif
