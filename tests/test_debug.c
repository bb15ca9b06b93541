/* Debug mode: streams left open when their loop closes are reported on
 * stderr with the task and call stack that opened them (asyncio's
 * ResourceWarning "unclosed StreamWriter"); nothing is reported when
 * debug mode is off or every stream was closed and released.
 *
 * Each scenario leaks streams on purpose, so it runs in a forked child
 * that leaves with _exit (no LeakSanitizer pass over the deliberate
 * leaks) and whose stderr the test reads back.  The binary is linked
 * with -rdynamic (ENABLE_EXPORTS) so the stacks name our functions. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cio.h"

TestSuite(debug, .timeout = 30);

enum leak {
    LEAK_NONE,         /* every stream closed and released */
    LEAK_UNCLOSED,     /* one stream never closed */
    LEAK_UNRELEASED,   /* one stream closed, never released */
    LEAK_TCP,          /* a TCP client stream never closed */
    LEAK_AFTER_SET_ON, /* cio_set_debug(true) after a first leak */
};

struct scenario {
    enum leak leak;
    uint16_t port; /* LEAK_TCP: the server the child connects to */
};

/* Deliberately not static and not inlined: the report must name it. */
__attribute__((noinline)) cio_stream *debug_test_open_pair_end(cio_stream **other)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return NULL;
    cio_stream *a = NULL;
    if (cio_stream_from_fd(&a, sv[0], NULL) != 0 || cio_stream_from_fd(other, sv[1], NULL) != 0)
        return NULL;
    return a;
}

static intptr_t opener(void *arg)
{
    const struct scenario *sc = arg;
    cio_stream *b, *a;
    switch (sc->leak) {
    case LEAK_NONE:
        a = debug_test_open_pair_end(&b);
        cio_close(a);
        cio_stream_release(a);
        cio_stream_release(b);
        break;
    case LEAK_UNCLOSED:
        a = debug_test_open_pair_end(&b);
        cio_stream_release(b);
        break;
    case LEAK_UNRELEASED:
        a = debug_test_open_pair_end(&b);
        cio_close(a);
        cio_stream_release(b);
        break;
    case LEAK_TCP:
        if (cio_open_connection(&a, "127.0.0.1", sc->port, NULL) != 0)
            return 1;
        break;
    case LEAK_AFTER_SET_ON:
        if (cio_get_debug())
            return 2;
        a = debug_test_open_pair_end(&b); /* not tracked: debug is off */
        cio_stream_release(b);
        cio_set_debug(true);
        if (!cio_get_debug())
            return 3;
        a = debug_test_open_pair_end(&b); /* tracked */
        cio_stream_release(b);
        break;
    }
    return 0;
}

static intptr_t child_main(void *arg)
{
    cio_task *t;
    cio_task_opts o = {.name = "opener"};
    if (cio_spawn(&t, opener, arg, &o) != 0)
        return 10;
    intptr_t rc = 11;
    cio_join(t, &rc);
    return rc;
}

/* Run the scenario in a child with debug (opts) as given and the
 * CIO_DEBUG environment variable set to env (NULL: unset); returns what
 * the child wrote to stderr (free it). */
static char *run_child(struct scenario sc, bool debug, const char *env)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        if (env)
            setenv("CIO_DEBUG", env, 1);
        else
            unsetenv("CIO_DEBUG");
        cio_run_opts o = {.debug = debug};
        intptr_t rc = cio_run_with(child_main, &sc, &o);
        if (cio_get_debug()) /* no loop any more */
            _exit(21);
        _exit(rc == 0 ? 0 : 20 + (int)rc);
    }
    close(p[1]);
    size_t cap = 65536, len = 0;
    char *out = malloc(cap);
    ssize_t n;
    while ((n = read(p[0], out + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    close(p[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x, stderr:\n%s",
              status, out);
    return out;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

Test(debug, unclosed_stream_is_reported_with_where_it_was_opened)
{
    char *out = run_child((struct scenario){LEAK_UNCLOSED, 0}, true, NULL);
    cr_assert_eq(count(out, "cio warning: unclosed stream"), 1, "%s", out);
    cr_assert(strstr(out, "never closed (cio_close or cio_stream_release)"), "%s", out);
    cr_assert(strstr(out, "opened by task 'opener'"), "%s", out);
    /* The stack names the function that opened it, and its caller. */
    cr_assert(strstr(out, "debug_test_open_pair_end"), "%s", out);
    cr_assert(strstr(out, "cio_stream_from_fd"), "%s", out);
    free(out);
}

Test(debug, closed_but_unreleased_stream_is_reported)
{
    char *out = run_child((struct scenario){LEAK_UNRELEASED, 0}, true, NULL);
    cr_assert_eq(count(out, "cio warning: unclosed stream"), 1, "%s", out);
    cr_assert(strstr(out, "closed but never released"), "%s", out);
    free(out);
}

Test(debug, tcp_stream_report_names_the_peer)
{
    /* The server lives in this process: a plain listening socket is
     * enough, the child's connect completes against its backlog. */
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    cr_assert_eq(bind(l, (struct sockaddr *)&a, alen), 0);
    cr_assert_eq(listen(l, 4), 0);
    cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &alen), 0);
    uint16_t port = ntohs(a.sin_port);
    char *out = run_child((struct scenario){LEAK_TCP, port}, true, NULL);
    char want[64];
    snprintf(want, sizeof(want), "peer 127.0.0.1:%u", (unsigned)port);
    cr_assert(strstr(out, want), "%s", out);
    cr_assert(strstr(out, "cio_open_connection"), "%s", out);
    close(l);
    free(out);
}

Test(debug, nothing_reported_when_all_streams_are_released)
{
    char *out = run_child((struct scenario){LEAK_NONE, 0}, true, NULL);
    cr_assert_str_empty(out);
    free(out);
}

Test(debug, off_by_default_and_with_cio_debug_0)
{
    char *out = run_child((struct scenario){LEAK_UNCLOSED, 0}, false, NULL);
    cr_assert_str_empty(out);
    free(out);
    out = run_child((struct scenario){LEAK_UNCLOSED, 0}, false, "0");
    cr_assert_str_empty(out);
    free(out);
}

Test(debug, cio_debug_environment_variable_turns_it_on)
{
    char *out = run_child((struct scenario){LEAK_UNCLOSED, 0}, false, "1");
    cr_assert_eq(count(out, "cio warning: unclosed stream"), 1, "%s", out);
    free(out);
}

Test(debug, set_debug_tracks_streams_opened_after_it)
{
    char *out = run_child((struct scenario){LEAK_AFTER_SET_ON, 0}, false, NULL);
    cr_assert_eq(count(out, "cio warning: unclosed stream"), 1, "%s", out);
    free(out);
}

Test(debug, get_and_set_without_a_loop)
{
    cio_set_debug(true); /* no loop: ignored */
    cr_assert(!cio_get_debug());
}
