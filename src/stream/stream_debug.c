/* Debug mode for streams: where each stream was opened, and asyncio's
 * ResourceWarning "unclosed StreamWriter" for the streams still alive
 * when their loop closes (reported through the loop's handle registry,
 * core/debug.c).  The call stack is taken with glibc's backtrace(); link
 * the program with -rdynamic to see its function names rather than
 * offsets. */
#include <execinfo.h>
#include <stdio.h>

#include "core/debug.h"
#include "stream/stream.h"

enum { ORIGIN_FRAMES = 16 };

struct cio__stream_origin {
    cio__handle handle; /* in the loop's registry */
    cio_stream *s;
    char task[32];
    int nframes;
    void *frames[ORIGIN_FRAMES];
};

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

static void report_leak(cio__handle *h)
{
    struct cio__stream_origin *o = cio__container_of(h, struct cio__stream_origin, handle);
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
    /* Skip our own frame: the first is cio__stream_debug_opened. */
    if (o->nframes > 1)
        backtrace_symbols_fd(o->frames + 1, o->nframes - 1, 2);
    /* The stream outlives its loop (it is leaked), but not this record. */
    s->origin = NULL;
    cio__free(o);
}

static const cio__handle_type stream_origin_type = {
    .kind = "stream",
    .report_leak = report_leak,
};

void cio__stream_debug_opened(cio_loop *loop, cio_stream *s)
{
    struct cio__stream_origin *o = cio__calloc(1, sizeof(*o));
    if (!o)
        return;
    o->s = s;
    cio_task *t = cio_current();
    snprintf(o->task, sizeof(o->task), "%s", t ? cio_task_name(t) : "(no task)");
    o->nframes = backtrace(o->frames, ORIGIN_FRAMES);
    cio__handle_add(loop, &o->handle, &stream_origin_type);
    s->origin = o;
}

void cio__stream_debug_freed(cio_stream *s)
{
    if (!s->origin)
        return;
    cio__handle_remove(&s->origin->handle);
    cio__free(s->origin);
    s->origin = NULL;
}
