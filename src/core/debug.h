/* Debug mode: asyncio's loop.set_debug(True) / PYTHONASYNCIODEBUG=1.
 * Resources register a handle with their loop (streams do, in debug
 * mode), and a loop that closes with handles still registered reports
 * each one — asyncio's ResourceWarning "unclosed StreamWriter", with the
 * opening call stack. */
#ifndef CIO_DEBUG_H
#define CIO_DEBUG_H

#include "core/loop.h"

/* Whether a new loop starts in debug mode: opts->debug, or the
 * CIO_DEBUG environment variable set to anything but "" or "0". */
bool cio__debug_default(bool opt);
/* At loop close: report every handle still registered (each type says
 * how: streams name where they were opened). */
void cio__debug_report(cio_loop *loop);
/* In debug mode, one line "cio debug: ..." on stderr (asyncio logs such
 * events at debug level, e.g. "SSL handshake failed"). */
void cio__debug_note(const cio_loop *loop, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
