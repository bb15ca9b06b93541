/* Socket addresses: numeric host parsing (the resolver's fast path), Unix
 * path and abstract names, and formatting (cio_addr_format). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "net/net.h"

uint16_t cio__addr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
    return 0;
}

static int numeric_v4(const char *host, uint16_t port, cio__addr *out)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&out->sa;
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
        return -EAGAIN;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    out->len = sizeof(*sin);
    out->family = AF_INET;
    return 0;
}

/* Scoped addresses ("fe80::1%eth0") need the interface index.
 * getaddrinfo with AI_NUMERICHOST never touches DNS, so calling it on the
 * loop thread is fine; inet_pton cannot parse the scope. */
static int numeric_v6_scoped(const char *host, uint16_t port, cio__addr *out)
{
    struct addrinfo hints = {
        .ai_family = AF_INET6,
        .ai_socktype = SOCK_STREAM,
        .ai_flags = AI_NUMERICHOST,
    };
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
        return -EAGAIN;
    memset(out, 0, sizeof(*out));
    memcpy(&out->sa, res->ai_addr, res->ai_addrlen);
    out->len = res->ai_addrlen;
    out->family = AF_INET6;
    ((struct sockaddr_in6 *)&out->sa)->sin6_port = htons(port);
    freeaddrinfo(res);
    return 0;
}

static int numeric_v6(const char *host, uint16_t port, cio__addr *out)
{
    char tmp[INET6_ADDRSTRLEN + 64];
    size_t len = strlen(host);
    /* "[::1]" is how a URL writes an IPv6 host; accept it too. */
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        if (len - 2 >= sizeof(tmp))
            return -EAGAIN;
        memcpy(tmp, host + 1, len - 2);
        tmp[len - 2] = '\0';
        host = tmp;
    }
    if (strchr(host, '%'))
        return numeric_v6_scoped(host, port, out);
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->sa;
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
        return -EAGAIN;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    out->len = sizeof(*sin6);
    out->family = AF_INET6;
    return 0;
}

int cio__addr_numeric(const char *host, uint16_t port, int family, cio__addr *out)
{
    if (!host || (family != AF_UNSPEC && family != AF_INET && family != AF_INET6))
        return -EINVAL;
    if (numeric_v4(host, port, out) == 0)
        return family == AF_INET6 ? CIO_EAI_ADDRFAMILY : 0;
    /* Only strings with a ':' can be IPv6 literals; skip the work for names. */
    if (strchr(host, ':') && numeric_v6(host, port, out) == 0)
        return family == AF_INET ? CIO_EAI_ADDRFAMILY : 0;
    return -EAGAIN;
}

int cio__unix_addr(const char *path, struct sockaddr_un *sa, socklen_t *len)
{
    if (!path || !sa || !len || !path[0])
        return -EINVAL;
    size_t n = strlen(path);
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (path[0] == '@') {
        /* Abstract: sun_path[0] is NUL and the name is exactly the bytes
         * after it, with no terminator (the length says where it ends). */
        if (n > sizeof(sa->sun_path))
            return -ENAMETOOLONG;
        memcpy(sa->sun_path + 1, path + 1, n - 1);
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
        return 0;
    }
    /* Keep room for the terminating NUL, as every other tool expects. */
    if (n >= sizeof(sa->sun_path))
        return -ENAMETOOLONG;
    memcpy(sa->sun_path, path, n + 1);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

bool cio__unix_is_abstract(const struct sockaddr_un *sa, socklen_t len)
{
    return sa->sun_family == AF_UNIX && len > offsetof(struct sockaddr_un, sun_path) &&
           sa->sun_path[0] == '\0';
}

/* Copy n bytes and a NUL into buf (cap bytes), or -ENOSPC. */
static int put(char *buf, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return -ENOSPC;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return (int)n;
}

static int format_unix(const struct sockaddr_un *sun, socklen_t len, char *buf, size_t cap)
{
    size_t off = offsetof(struct sockaddr_un, sun_path);
    if (len <= off)
        return put(buf, cap, "", 0); /* unnamed (socketpair, unbound client) */
    size_t n = len - off;
    if (n > sizeof(sun->sun_path))
        n = sizeof(sun->sun_path);
    if (sun->sun_path[0] != '\0') {
        /* A path: the kernel may or may not count the NUL in len. */
        return put(buf, cap, sun->sun_path, strnlen(sun->sun_path, n));
    }
    /* Abstract: '@' then the name bytes; embedded NULs shown as '@' like ss(8). */
    if (n >= cap)
        return -ENOSPC;
    for (size_t i = 0; i < n; i++)
        buf[i] = sun->sun_path[i] ? sun->sun_path[i] : '@';
    buf[n] = '\0';
    return (int)n;
}

int cio_addr_format(const struct sockaddr *addr, socklen_t len, char *buf, size_t cap)
{
    char host[INET6_ADDRSTRLEN + 16];
    char tmp[sizeof(host) + 16];
    if (!addr || !buf || len < (socklen_t)sizeof(sa_family_t))
        return -EINVAL;
    switch (addr->sa_family) {
    case AF_INET: {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)addr;
        if (len < (socklen_t)sizeof(*sin))
            return -EINVAL;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        int n = snprintf(tmp, sizeof(tmp), "%s:%u", host, ntohs(sin->sin_port));
        return put(buf, cap, tmp, (size_t)n);
    }
    case AF_INET6: {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)addr;
        if (len < (socklen_t)sizeof(*sin6))
            return -EINVAL;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        int n;
        if (sin6->sin6_scope_id)
            n = snprintf(tmp, sizeof(tmp), "[%s%%%u]:%u", host, (unsigned)sin6->sin6_scope_id,
                         ntohs(sin6->sin6_port));
        else
            n = snprintf(tmp, sizeof(tmp), "[%s]:%u", host, ntohs(sin6->sin6_port));
        return put(buf, cap, tmp, (size_t)n);
    }
    case AF_UNIX:
        return format_unix((const struct sockaddr_un *)(const void *)addr, len, buf, cap);
    default:
        return -EAFNOSUPPORT;
    }
}
