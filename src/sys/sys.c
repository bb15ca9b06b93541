/* Syscall and allocation wrappers (see sys.h): the one place where cio
 * talks to libc, so fault injection can reach every call. */
#include "sys/sys.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sys/list.h"
#include "sys/sys.h"

/* Returns true (with errno set) when the call must fail; *short_io is set
 * when a read/write should transfer at most one byte instead. */
static inline bool fault(enum cio__fault_site site, bool *short_io)
{
    if (cio__likely(!cio__fault_active))
        return false;
    int e = cio__fault_check(site);
    if (e == 0)
        return false;
    if (e == -1) {
        if (short_io)
            *short_io = true;
        return false;
    }
    errno = e;
    return true;
}

#define FAIL_IF(site, ret)                                                                         \
    do {                                                                                           \
        if (fault(site, NULL))                                                                     \
            return ret;                                                                            \
    } while (0)

void *cio__malloc(size_t size)
{
    FAIL_IF(CIO_FAULT_ALLOC, NULL);
    return malloc(size);
}

void *cio__calloc(size_t n, size_t size)
{
    FAIL_IF(CIO_FAULT_ALLOC, NULL);
    return calloc(n, size);
}

void *cio__realloc(void *ptr, size_t size)
{
    FAIL_IF(CIO_FAULT_ALLOC, NULL);
    return realloc(ptr, size);
}

void *cio__reallocarray(void *ptr, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        errno = ENOMEM;
        return NULL;
    }
    return cio__realloc(ptr, n * size);
}

void cio__free(void *ptr)
{
    free(ptr);
}

char *cio__strdup(const char *s)
{
    FAIL_IF(CIO_FAULT_ALLOC, NULL);
    return strdup(s);
}

void *cio__mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    FAIL_IF(CIO_FAULT_MMAP, MAP_FAILED);
    return mmap(addr, len, prot, flags, fd, off);
}

int cio__munmap(void *addr, size_t len)
{
    return munmap(addr, len);
}

int cio__mprotect(void *addr, size_t len, int prot)
{
    FAIL_IF(CIO_FAULT_MMAP, -1);
    return mprotect(addr, len, prot);
}

int cio__madvise(void *addr, size_t len, int advice)
{
    FAIL_IF(CIO_FAULT_MMAP, -1);
    return madvise(addr, len, advice);
}

int cio__epoll_create(void)
{
    FAIL_IF(CIO_FAULT_POLLER, -1);
    return epoll_create1(EPOLL_CLOEXEC);
}

int cio__epoll_ctl(int epfd, int op, int fd, void *event)
{
    FAIL_IF(CIO_FAULT_POLLER, -1);
    return epoll_ctl(epfd, op, fd, event);
}

int cio__epoll_wait(int epfd, void *events, int max, int timeout_ms)
{
    return epoll_wait(epfd, events, max, timeout_ms);
}

int cio__poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
    return poll(fds, n, timeout_ms);
}

int cio__eventfd(void)
{
    FAIL_IF(CIO_FAULT_POLLER, -1);
    return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

int cio__close(int fd)
{
    /* Linux releases the descriptor even when close reports EINTR, so it
     * is never retried. */
    return close(fd);
}

/* A short transfer is a real call with the length cut to one byte. */
#define SHORT_LEN(site, len, ret)                                                                  \
    do {                                                                                           \
        bool short_io = false;                                                                     \
        if (fault(site, &short_io))                                                                \
            return ret;                                                                            \
        if (short_io && (len) > 1)                                                                 \
            (len) = 1;                                                                             \
    } while (0)

ssize_t cio__read(int fd, void *buf, size_t len)
{
    SHORT_LEN(CIO_FAULT_READ, len, -1);
    return read(fd, buf, len);
}

ssize_t cio__write(int fd, const void *buf, size_t len)
{
    SHORT_LEN(CIO_FAULT_WRITE, len, -1);
    return write(fd, buf, len);
}

ssize_t cio__recv(int fd, void *buf, size_t len, int flags)
{
    SHORT_LEN(CIO_FAULT_READ, len, -1);
    return recv(fd, buf, len, flags);
}

ssize_t cio__send(int fd, const void *buf, size_t len, int flags)
{
    SHORT_LEN(CIO_FAULT_WRITE, len, -1);
    return send(fd, buf, len, flags);
}

/* For vectored calls a short transfer sends part of the first buffer. */
static ssize_t vec_short(int fd, const struct iovec *iov, int iovcnt, bool is_write, int flags,
                         bool use_msg)
{
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len == 0)
            continue;
        if (is_write)
            return use_msg ? send(fd, iov[i].iov_base, 1, flags) : write(fd, iov[i].iov_base, 1);
        return read(fd, iov[i].iov_base, 1);
    }
    return is_write ? (use_msg ? send(fd, "", 0, flags) : write(fd, "", 0)) : 0;
}

ssize_t cio__readv(int fd, const struct iovec *iov, int iovcnt)
{
    bool short_io = false;
    if (fault(CIO_FAULT_READ, &short_io))
        return -1;
    if (short_io)
        return vec_short(fd, iov, iovcnt, false, 0, false);
    return readv(fd, iov, iovcnt);
}

ssize_t cio__writev(int fd, const struct iovec *iov, int iovcnt)
{
    bool short_io = false;
    if (fault(CIO_FAULT_WRITE, &short_io))
        return -1;
    if (short_io)
        return vec_short(fd, iov, iovcnt, true, 0, false);
    return writev(fd, iov, iovcnt);
}

ssize_t cio__sendmsg(int fd, const struct msghdr *msg, int flags)
{
    bool short_io = false;
    if (fault(CIO_FAULT_WRITE, &short_io))
        return -1;
    if (short_io)
        return vec_short(fd, msg->msg_iov, (int)msg->msg_iovlen, true, flags, true);
    return sendmsg(fd, msg, flags);
}

int cio__socket(int domain, int type, int protocol)
{
    FAIL_IF(CIO_FAULT_SOCKET, -1);
    return socket(domain, type, protocol);
}

int cio__socketpair(int domain, int type, int protocol, int sv[2])
{
    FAIL_IF(CIO_FAULT_SOCKET, -1);
    return socketpair(domain, type, protocol, sv);
}

int cio__connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    FAIL_IF(CIO_FAULT_CONNECT, -1);
    return connect(fd, addr, len);
}

int cio__bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    FAIL_IF(CIO_FAULT_BIND, -1);
    return bind(fd, addr, len);
}

int cio__listen(int fd, int backlog)
{
    FAIL_IF(CIO_FAULT_BIND, -1);
    return listen(fd, backlog);
}

int cio__accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    FAIL_IF(CIO_FAULT_ACCEPT, -1);
    return accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int cio__shutdown(int fd, int how)
{
    FAIL_IF(CIO_FAULT_SHUTDOWN, -1);
    return shutdown(fd, how);
}

int cio__setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    FAIL_IF(CIO_FAULT_SOCKOPT, -1);
    return setsockopt(fd, level, name, val, len);
}

int cio__getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    FAIL_IF(CIO_FAULT_SOCKOPT, -1);
    return getsockopt(fd, level, name, val, len);
}

int cio__lstat(const char *path, struct stat *st)
{
    FAIL_IF(CIO_FAULT_BIND, -1);
    return lstat(path, st);
}

int cio__stat(const char *path, struct stat *st)
{
    FAIL_IF(CIO_FAULT_BIND, -1);
    return stat(path, st);
}

int cio__unlink(const char *path)
{
    FAIL_IF(CIO_FAULT_BIND, -1);
    return unlink(path);
}

int cio__getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
    FAIL_IF(CIO_FAULT_SOCKOPT, -1);
    return getpeername(fd, addr, len);
}

int cio__getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
    FAIL_IF(CIO_FAULT_SOCKOPT, -1);
    return getsockname(fd, addr, len);
}

int cio__set_nonblock_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    int fdfl = fcntl(fd, F_GETFD);
    if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0)
        return -1;
    return 0;
}

int cio__pthread_create(void *thread, void *(*fn)(void *), void *arg)
{
    if (fault(CIO_FAULT_THREAD, NULL))
        return -1;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int e = pthread_create((pthread_t *)thread, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    if (e) {
        errno = e;
        return -1;
    }
    return 0;
}
