/* Interop with real programs not written here: socat and nc
 * (netcat-openbsd; tools/deps.sh installs both).  A cio client talks to
 * `socat ... EXEC:cat` echo servers over TCP and Unix sockets; cio
 * servers echo for `nc -N` and `socat -` clients fed from a pipe.  The
 * children's stdin, stdout and stderr are pipes adopted as cio streams
 * (a pipe is a stream without a socket), and their exits are awaited on a
 * pidfd, so nothing here sleeps or polls.
 *
 * Every child dies with the test process (PR_SET_PDEATHSIG) and is killed
 * and reaped by the fixture's teardown if an assertion ends the test
 * early.  Tests are skipped when a program is missing. */
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "e2e_helpers.h"

TestSuite(interop, .timeout = 60);

/* Bytes pushed through each program. */
enum { PROGRAM_BULK = 2 << 20 };

/* ---- children -------------------------------------------------------------------------------- */

/* A child with its stdin, stdout and stderr on pipes. */
typedef struct child {
    const char *name;
    pid_t pid;
    int pidfd;                  /* readable once the child has exited */
    int status;                 /* its wait status, once reaped (pid 0) */
    cio_stream *in, *out, *err; /* our ends; NULL once finished */
} child;

/* What teardown must clean up if the test ends early. */
static pid_t live_pids[4];
static char live_path[108];

static void teardown(void)
{
    for (size_t i = 0; i < sizeof(live_pids) / sizeof(live_pids[0]); i++) {
        if (live_pids[i] > 0) {
            kill(live_pids[i], SIGKILL);
            waitpid(live_pids[i], NULL, 0);
            live_pids[i] = 0;
        }
    }
    if (live_path[0])
        unlink(live_path);
}

static void track(pid_t old, pid_t new)
{
    for (size_t i = 0; i < sizeof(live_pids) / sizeof(live_pids[0]); i++) {
        if (live_pids[i] == old) {
            live_pids[i] = new;
            return;
        }
    }
    cr_assert_fail("more children than live_pids holds");
}

static bool have_program(const char *name)
{
    const char *path = getenv("PATH");
    char buf[4096];
    while (path && *path) {
        size_t n = strcspn(path, ":");
        snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, name);
        if (access(buf, X_OK) == 0)
            return true;
        path += n + (path[n] == ':');
    }
    return false;
}

#define MISSING(prog) prog " is not installed (tools/deps.sh installs it)"

static cio_stream *pipe_stream(int fd)
{
    cio_stream *s = stream_on(fd, NULL);
    cr_assert_eq(cio_stream_fd(s), fd);
    return s;
}

static void spawn(child *ch, const char *const argv[])
{
    int p[3][2];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pipe2(p[i], O_CLOEXEC), 0, "pipe2: %s", strerror(errno));
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* Async-signal-safe calls only: the parent may have threads. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
            _exit(126);
        if (dup2(p[0][0], 0) < 0 || dup2(p[1][1], 1) < 0 || dup2(p[2][1], 2) < 0)
            _exit(126);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    track(0, pid);
    *ch = (child){.name = argv[0], .pid = pid};
    ch->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    cr_assert_geq(ch->pidfd, 0, "pidfd_open: %s", strerror(errno));
    close(p[0][0]);
    close(p[1][1]);
    close(p[2][1]);
    ch->in = pipe_stream(p[0][1]);
    ch->out = pipe_stream(p[1][0]);
    ch->err = pipe_stream(p[2][0]);
}

/* Wait (bounded) for the child to exit and reap it; sets ch->status. */
static void child_reap(child *ch)
{
    cio_timeout scope;
    cio_timeout_enter(&scope, 10);
    int rc = cio_wait_readable(ch->pidfd);
    cio_timeout_exit(&scope);
    if (rc)
        kill(ch->pid, SIGKILL);
    cr_assert_eq(waitpid(ch->pid, &ch->status, 0), ch->pid);
    track(ch->pid, 0);
    ch->pid = 0;
    close(ch->pidfd);
    cr_assert_eq(rc, 0, "%s did not exit: %s", ch->name, cio_err_name(rc));
}

/* Close our ends of the pipes, reap the child (if not done yet), and
 * return its exit code; its stderr (for failure messages) in *errtext,
 * malloc'd. */
static int child_finish(child *ch, char **errtext)
{
    if (ch->in)
        stream_finish(ch->in, 0);
    if (ch->out)
        stream_finish(ch->out, 0);
    ch->in = ch->out = NULL;
    if (ch->pid)
        child_reap(ch);
    size_t len = 0;
    ssize_t n = cio_read_all(ch->err, errtext, &len);
    stream_finish(ch->err, 0);
    ch->err = NULL;
    if (!*errtext)
        *errtext = strdup("");
    cr_assert_geq(n, 0, "%s's stderr: %s", ch->name, cio_err_name((int)n));
    cr_assert(WIFEXITED(ch->status), "%s died of signal %d", ch->name, WTERMSIG(ch->status));
    return WEXITSTATUS(ch->status);
}

/* Finish the child and expect it to have exited with 0. */
static void child_done(child *ch)
{
    char *errtext = NULL;
    int status = child_finish(ch, &errtext);
    cr_assert_eq(status, 0, "%s exited with %d: %s", ch->name, status, errtext);
    free(errtext);
}

/* ---- cio clients, programs as echo servers --------------------------------------------------- */

/* Read socat's -d -d log until it says where it listens; returns the text
 * after "listening on ", malloc'd. */
static char *socat_listening(child *ch)
{
    const char *view;
    for (;;) {
        ssize_t n = cio_readline_view(ch->err, &view);
        cr_assert_gt(n, 0, "socat ended before listening (%s)", cio_err_name((int)n));
        const char *at = memmem(view, (size_t)n, "listening on ", 13);
        if (at) {
            at += 13;
            return strndup(at, (size_t)(view + n - at - 1));
        }
    }
}

/* socat as a one-connection echo server for kind (TCP on port 0: it
 * reports the port it got), and a cio client exercising it. */
static void socat_echo_server_case(enum e2e_kind kind)
{
    char listen_addr[160];
    e2e_server at = {.kind = kind};
    if (kind == E2E_UNIX) {
        e2e_unix_path(at.path, sizeof(at.path), "socat");
        snprintf(live_path, sizeof(live_path), "%s", at.path);
        snprintf(listen_addr, sizeof(listen_addr), "UNIX-LISTEN:%s", at.path);
    } else {
        snprintf(listen_addr, sizeof(listen_addr), "TCP-LISTEN:0,bind=127.0.0.1,reuseaddr");
    }
    const char *argv[] = {"socat", "-d", "-d",        "-T",       "10",
                          "-t",    "10", listen_addr, "EXEC:cat", NULL};
    child ch;
    spawn(&ch, argv);
    char *where = socat_listening(&ch);
    if (kind != E2E_UNIX) {
        const char *colon = strrchr(where, ':');
        cr_assert_not_null(colon, "socat listens on \"%s\"", where);
        at.port = (uint16_t)atoi(colon + 1);
        cr_assert_neq(at.port, 0, "socat listens on \"%s\"", where);
    }
    free(where);
    e2e_exercise_echo(e2e_connect(&at, NULL), PROGRAM_BULK);
    child_done(&ch);
}

E2E_TEST_IF(interop, cio_client_to_socat_tcp_echo_server, have_program("socat"), MISSING("socat"),
            .fini = teardown)
{
    socat_echo_server_case(E2E_TCP4);
    return 0;
}

E2E_TEST_IF(interop, cio_client_to_socat_unix_echo_server, have_program("socat"), MISSING("socat"),
            .fini = teardown)
{
    socat_echo_server_case(E2E_UNIX);
    return 0;
}

/* ---- cio servers, programs as clients -------------------------------------------------------- */

/* A cio echo server of kind; the client program (argv, with "%s" in one
 * argument standing for the port or the socket path) gets PROGRAM_BULK
 * bytes on its stdin and must print them back, then exit 0 once the
 * server closes. */
static void program_client_case(enum e2e_kind kind, const char *const argv_fmt[])
{
    struct e2e_echo st = {0};
    e2e_server es;
    e2e_listen(&es, kind, e2e_echo_handler, &st, NULL);
    char what[sizeof(es.path)], where[160];
    if (kind == E2E_UNIX)
        snprintf(what, sizeof(what), "%s", es.path);
    else
        snprintf(what, sizeof(what), "%u", (unsigned)es.port);
    const char *argv[16];
    size_t i;
    for (i = 0; argv_fmt[i]; i++) {
        cr_assert_lt(i, sizeof(argv) / sizeof(argv[0]) - 1);
        argv[i] = argv_fmt[i];
        if (strstr(argv_fmt[i], "%s")) {
            snprintf(where, sizeof(where), argv_fmt[i], what);
            argv[i] = where;
        }
    }
    argv[i] = NULL;
    child ch;
    spawn(&ch, argv);
    struct e2e_source src = {.s = ch.in, .bytes = PROGRAM_BULK, .seed = 11};
    struct e2e_sink sink = {.s = ch.out, .chunk = E2E_CHUNK};
    cio_task *feeder = t_spawn(e2e_source_task, &src);
    e2e_sink_task(&sink);
    cr_assert_eq(t_join(feeder), 0);
    /* The source ended the pipe with write_eof, which closes it. */
    EXPECT_ERR(cio_wait_closed(ch.in), 0);
    cio_stream_release(ch.in);
    ch.in = NULL;
    e2e_expect_same(&src, &sink);
    child_done(&ch);
    e2e_echo_wait_ended(&st, 1);
    cr_assert_eq(st.conns, 1);
    cr_assert_eq(st.bytes, PROGRAM_BULK);
    cr_assert_eq(st.last, 0, "the handler's last read: %s", cio_err_name((int)st.last));
    e2e_server_done(&es);
}

/* -N: shut the socket down for writing at the end of stdin, then print
 * what comes back until the server closes. */
E2E_TEST_IF(interop, nc_client_to_a_cio_tcp_server, have_program("nc.openbsd"),
            MISSING("nc.openbsd (netcat-openbsd)"), .fini = teardown)
{
    program_client_case(E2E_TCP4,
                        (const char *const[]){"nc.openbsd", "-N", "127.0.0.1", "%s", NULL});
    return 0;
}

/* -t 10: after stdin's EOF, wait up to 10 s (not the default 0.5) for the
 * server's EOF. */
E2E_TEST_IF(interop, socat_client_to_a_cio_tcp_server, have_program("socat"), MISSING("socat"),
            .fini = teardown)
{
    program_client_case(E2E_TCP4, (const char *const[]){"socat", "-t", "10", "-T", "10", "-",
                                                        "TCP:127.0.0.1:%s", NULL});
    return 0;
}

E2E_TEST_IF(interop, socat_client_to_a_cio_unix_server, have_program("socat"), MISSING("socat"),
            .fini = teardown)
{
    program_client_case(E2E_UNIX, (const char *const[]){"socat", "-t", "10", "-T", "10", "-",
                                                        "UNIX-CONNECT:%s", NULL});
    return 0;
}

/* ---- pipes to a program that is gone --------------------------------------------------------- */

/* socat fails to connect and exits without reading its stdin: writing to
 * that pipe is -EPIPE, never a SIGPIPE (E2E_TEST leaves SIGPIPE at its
 * default action, so one would kill the test). */
E2E_TEST_IF(interop, writing_to_a_program_that_exited_is_EPIPE_not_SIGPIPE, have_program("socat"),
            MISSING("socat"), .fini = teardown)
{
    char missing[108], target[160];
    e2e_unix_path(missing, sizeof(missing), "missing");
    snprintf(target, sizeof(target), "UNIX-CONNECT:%s", missing);
    child ch;
    spawn(&ch, (const char *const[]){"socat", "-u", "-", target, NULL});
    child_reap(&ch);
    EXPECT_ERR(cio_write(ch.in, "x", 1), -EPIPE);
    EXPECT_ERR(cio_drain(ch.in), -EPIPE);
    EXPECT_ERR(cio_wait_closed(ch.in), -EPIPE);
    cio_stream_release(ch.in);
    ch.in = NULL;
    char *errtext = NULL;
    int status = child_finish(&ch, &errtext);
    cr_assert_neq(status, 0, "socat connected to a missing socket: %s", errtext);
    free(errtext);
    return 0;
}
