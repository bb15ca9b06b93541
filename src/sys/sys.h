/* Every syscall and allocation the library makes goes through these
 * wrappers, so tests can make the Nth call of a kind fail with a chosen
 * errno (src/fault.h).  They return what libc returns and set errno, so
 * call sites read like plain POSIX; cio__err() turns errno into -errno. */
#ifndef CIO_SYS_H
#define CIO_SYS_H

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "sys/fault.h"

#define cio__likely(x) __builtin_expect(!!(x), 1)
#define cio__unlikely(x) __builtin_expect(!!(x), 0)
#define CIO__STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#define CIO__ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void *cio__malloc(size_t size);
void *cio__calloc(size_t n, size_t size);
void *cio__realloc(void *ptr, size_t size);
/* realloc of an array of n elements of size, overflow-checked. */
void *cio__reallocarray(void *ptr, size_t n, size_t size);
void cio__free(void *ptr);
char *cio__strdup(const char *s);

void *cio__mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int cio__munmap(void *addr, size_t len);
int cio__mprotect(void *addr, size_t len, int prot);
int cio__madvise(void *addr, size_t len, int advice);

int cio__epoll_create(void);
int cio__epoll_ctl(int epfd, int op, int fd, void *event);
int cio__epoll_wait(int epfd, void *events, int max, int timeout_ms);
int cio__poll(struct pollfd *fds, nfds_t n, int timeout_ms);
int cio__eventfd(void);
int cio__close(int fd);

ssize_t cio__read(int fd, void *buf, size_t len);
ssize_t cio__write(int fd, const void *buf, size_t len);
ssize_t cio__readv(int fd, const struct iovec *iov, int iovcnt);
ssize_t cio__writev(int fd, const struct iovec *iov, int iovcnt);
ssize_t cio__recv(int fd, void *buf, size_t len, int flags);
ssize_t cio__send(int fd, const void *buf, size_t len, int flags);
ssize_t cio__sendmsg(int fd, const struct msghdr *msg, int flags);
int cio__socket(int domain, int type, int protocol);
int cio__socketpair(int domain, int type, int protocol, int sv[2]);
int cio__connect(int fd, const struct sockaddr *addr, socklen_t len);
int cio__bind(int fd, const struct sockaddr *addr, socklen_t len);
int cio__listen(int fd, int backlog);
int cio__accept(int fd, struct sockaddr *addr, socklen_t *len);
int cio__shutdown(int fd, int how);
int cio__setsockopt(int fd, int level, int name, const void *val, socklen_t len);
int cio__getsockopt(int fd, int level, int name, void *val, socklen_t *len);

/* Unix socket files (server.c); failures injected at CIO_FAULT_BIND. */
int cio__lstat(const char *path, struct stat *st);
int cio__stat(const char *path, struct stat *st);
int cio__unlink(const char *path);

int cio__getpeername(int fd, struct sockaddr *addr, socklen_t *len);
int cio__getsockname(int fd, struct sockaddr *addr, socklen_t *len);
/* fcntl(O_NONBLOCK) and FD_CLOEXEC on fd. */
int cio__set_nonblock_cloexec(int fd);

int cio__pthread_create(void *thread, void *(*fn)(void *), void *arg);

/* -errno of the last failed call (never 0). */
static inline int cio__err(void)
{
    return errno > 0 ? -errno : -EIO;
}

#endif
