/* Fault injection: make the Nth call through a syscall/allocation wrapper
 * fail with a chosen errno (SQLite/neco style).  State is per thread and
 * costs one predictable branch when nothing is armed.  Tests include this
 * header (it is internal, not installed). */
#ifndef CIO_FAULT_H
#define CIO_FAULT_H

#include <stdbool.h>

enum cio__fault_site {
    CIO_FAULT_ALLOC,  /* malloc, calloc, realloc, strdup */
    CIO_FAULT_MMAP,   /* mmap, mprotect, madvise(guard) */
    CIO_FAULT_POLLER, /* epoll_create, epoll_ctl, eventfd */
    CIO_FAULT_SOCKET, /* socket, socketpair */
    CIO_FAULT_CONNECT,
    CIO_FAULT_BIND, /* bind, listen, Unix socket file stat/lstat/unlink */
    CIO_FAULT_ACCEPT,
    CIO_FAULT_READ,  /* read, readv, recv */
    CIO_FAULT_WRITE, /* write, writev, send, sendmsg */
    CIO_FAULT_SHUTDOWN,
    CIO_FAULT_SOCKOPT, /* setsockopt, getsockopt */
    CIO_FAULT_THREAD,  /* pthread_create */
    CIO_FAULT__COUNT
};

/* Make call number nth (1 = the next call) at site fail with err.  With
 * persistent, every call from then on fails too.  For CIO_FAULT_WRITE and
 * CIO_FAULT_READ, err == 0 means "short": the call transfers at most
 * one byte instead of failing. */
void cio__fault_arm(enum cio__fault_site site, unsigned long nth, int err, bool persistent);
/* Disarm everything on this thread and zero the call counters. */
void cio__fault_reset(void);
/* Calls made at site on this thread since the last reset. */
unsigned long cio__fault_calls(enum cio__fault_site site);

/* Internal: 0 to go ahead, an errno to fail with, or -1 for "short". */
int cio__fault_check(enum cio__fault_site site);
extern _Thread_local bool cio__fault_active;

#endif
