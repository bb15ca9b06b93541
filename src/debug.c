/* Debug mode (debug.h): where each stream was opened, and the report of
 * streams left open when their loop closes.
 *
 * C has no garbage collector to notice a stream dropped on the floor, so
 * the check runs when the loop closes (the end of cio_run): a stream
 * still alive then was never closed or never released.  The call stack is
 * taken with glibc's backtrace(); link the program with -rdynamic to see
 * its function names rather than offsets. */
#include <execinfo.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "debug.h"
#include "stream.h"

enum { ORIGIN_FRAMES = 16 };

struct cio__stream_origin {
    cio__node node; /* loop->debug_streams */
    cio_stream *s;
    char task[32];
    int nframes;
    void *frames[ORIGIN_FRAMES];
};

bool cio__debug_default(bool opt)
{
    const char *env = getenv("CIO_DEBUG");
    return opt || (env && env[0] && strcmp(env, "0") != 0);
}

void cio__debug_stream_opened(cio_loop *loop, cio_stream *s)
{
    struct cio__stream_origin *o = cio__calloc(1, sizeof(*o));
    if (!o)
        return;
    o->s = s;
    cio_task *t = cio_current();
    snprintf(o->task, sizeof(o->task), "%s", t ? cio_task_name(t) : "(no task)");
    o->nframes = backtrace(o->frames, ORIGIN_FRAMES);
    cio__list_insert_before(&loop->debug_streams, &o->node);
    s->origin = o;
}

void cio__debug_stream_freed(cio_stream *s)
{
    if (!s->origin)
        return;
    cio__list_remove(&s->origin->node);
    cio__free(s->origin);
    s->origin = NULL;
}

static void describe_peer(const cio_stream *s, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    out[0] = '\0';
    if (s->closed || cio_stream_peername(s, (struct sockaddr *)&ss, &len) != 0)
        return;
    char name[128];
    if (cio_addr_format((struct sockaddr *)&ss, len, name, sizeof(name)) > 0)
        snprintf(out, cap, ", peer %s", name);
}

void cio__debug_report(cio_loop *loop)
{
    cio__node *n;
    while ((n = cio__list_pop_front(&loop->debug_streams))) {
        struct cio__stream_origin *o = cio__container_of(n, struct cio__stream_origin, node);
        cio_stream *s = o->s;
        char peer[160];
        describe_peer(s, peer, sizeof(peer));
        const char *what = s->closing ? "closed but never released (cio_stream_release)"
                                      : "never closed (cio_close or cio_stream_release)";
        fprintf(stderr,
                "cio warning: unclosed stream (fd %d%s): %s when its loop closed; "
                "opened by task '%s' at:\n",
                s->ep.fd, peer, what, o->task);
        fflush(stderr);
        /* Skip our own frame: the first is cio__debug_stream_opened. */
        if (o->nframes > 1)
            backtrace_symbols_fd(o->frames + 1, o->nframes - 1, 2);
        /* The stream outlives its loop (it is leaked), but not this record. */
        s->origin = NULL;
        cio__free(o);
    }
}

void cio__debug_note(const cio_loop *loop, const char *fmt, ...)
{
    if (!loop || !loop->debug)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "cio debug: %s\n", line);
}
