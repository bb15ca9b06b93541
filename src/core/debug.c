/* Debug mode (debug.h): the switch, the notes, and the report of the
 * handles still registered when the loop closes.
 *
 * C has no garbage collector to notice a resource dropped on the floor,
 * so the check runs when the loop closes (the end of cio_run): a handle
 * still registered then was never closed or never released.  The layers
 * above register what they want reported (streams: stream_debug.c); the
 * loop never needs to know their types. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/debug.h"

bool cio__debug_default(bool opt)
{
    const char *env = getenv("CIO_DEBUG");
    return opt || (env && env[0] && strcmp(env, "0") != 0);
}

void cio__debug_report(cio_loop *loop)
{
    cio__node *n;
    while ((n = cio__list_pop_front(&loop->handles))) {
        cio__handle *h = cio__container_of(n, cio__handle, node);
        h->type->report_leak(h);
    }
}

void cio__handle_add(cio_loop *loop, cio__handle *h, const cio__handle_type *type)
{
    h->type = type;
    cio__list_insert_before(&loop->handles, &h->node);
}

void cio__handle_remove(cio__handle *h)
{
    cio__list_remove(&h->node);
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
