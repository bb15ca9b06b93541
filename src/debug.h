/* Debug mode: asyncio's loop.set_debug(True) / PYTHONASYNCIODEBUG=1.
 * Streams remember where they were opened, and a loop that closes with
 * streams still open names each one — asyncio's ResourceWarning
 * "unclosed StreamWriter", with the opening call stack. */
#ifndef CIO_DEBUG_H
#define CIO_DEBUG_H

#include "loop.h"

/* Whether a new loop starts in debug mode: opts->debug, or the
 * CIO_DEBUG environment variable set to anything but "" or "0". */
bool cio__debug_default(bool opt);
/* Record where s is being opened (debug loops only; best effort: without
 * memory the stream simply goes untracked). */
void cio__debug_stream_opened(cio_loop *loop, cio_stream *s);
/* Forget s: it is being freed. */
void cio__debug_stream_freed(cio_stream *s);
/* At loop close: warn on stderr about every stream still alive. */
void cio__debug_report(cio_loop *loop);
/* In debug mode, one line "cio debug: ..." on stderr (asyncio logs such
 * events at debug level, e.g. "SSL handshake failed"). */
void cio__debug_note(const cio_loop *loop, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
