/* Name resolution: numeric hosts on the loop thread, names through the
 * thread pool's DNS share (getaddrinfo blocks, and a slow resolver must
 * not starve other pool work), results copied into one cio__malloc'd
 * list so allocation faults are injectable and one free releases it. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "net/net.h"

void cio__addrs_free(cio__addr *list)
{
    cio__free(list);
}

int cio__socket_for(int family, int type)
{
    int fd = cio__socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    return fd < 0 ? cio__err() : fd;
}

/* The wildcard addresses for a server bound to "every interface", in
 * getaddrinfo(NULL, AI_PASSIVE)'s order: IPv4 first. */
static int passive(uint16_t port, int family, cio__addr **out, size_t *n)
{
    cio__addr *list = cio__calloc(2, sizeof(*list));
    if (!list)
        return -ENOMEM;
    size_t k = 0;
    if (family != AF_INET6) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&list[k].sa;
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_ANY);
        sin->sin_port = htons(port);
        list[k].len = sizeof(*sin);
        list[k++].family = AF_INET;
    }
    if (family != AF_INET) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&list[k].sa;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_addr = in6addr_any;
        sin6->sin6_port = htons(port);
        list[k].len = sizeof(*sin6);
        list[k++].family = AF_INET6;
    }
    *out = list;
    *n = k;
    return 0;
}

/* The work handed to a pool thread; lives on the resolving task's stack,
 * which cio__to_thread keeps alive until the worker is done with it. */
struct gai_job {
    const char *host;
    char service[8];
    struct addrinfo hints;
    struct addrinfo *res;
    int saved_errno;
};

/* RFC 6761: "localhost" names are loopback.  AI_ADDRCONFIG may hide them
 * on a host whose only addresses are loopback ones, so those get a
 * second chance without it. */
static bool loopback_name(const char *host)
{
    size_t n = strlen(host);
    if (n && host[n - 1] == '.')
        n--;
    if (n == 9 && strncasecmp(host, "localhost", 9) == 0)
        return true;
    return n > 10 && strncasecmp(host + n - 10, ".localhost", 10) == 0;
}

static intptr_t gai_worker(void *arg)
{
    struct gai_job *job = arg;
    errno = 0;
    int rc = getaddrinfo(job->host, job->service, &job->hints, &job->res);
    if ((rc == EAI_NONAME || rc == EAI_NODATA || rc == EAI_ADDRFAMILY) &&
        (job->hints.ai_flags & AI_ADDRCONFIG) && loopback_name(job->host)) {
        job->hints.ai_flags &= ~AI_ADDRCONFIG;
        errno = 0;
        rc = getaddrinfo(job->host, job->service, &job->hints, &job->res);
    }
    job->saved_errno = errno;
    return rc;
}

static bool same_addr(const cio__addr *a, const cio__addr *b)
{
    return a->len == b->len && memcmp(&a->sa, &b->sa, a->len) == 0;
}

/* Copy getaddrinfo's list, dropping duplicates (a hosts file may name an
 * address twice) and anything that is not IPv4/IPv6. */
static int copy_list(const struct addrinfo *res, cio__addr **out, size_t *n)
{
    size_t count = 0;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
        count++;
    cio__addr *list = cio__calloc(count ? count : 1, sizeof(*list));
    if (!list)
        return -ENOMEM;
    size_t k = 0;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof(list[k].sa))
            continue;
        memcpy(&list[k].sa, ai->ai_addr, ai->ai_addrlen);
        list[k].len = ai->ai_addrlen;
        list[k].family = ai->ai_family;
        bool dup = false;
        for (size_t j = 0; j < k && !dup; j++)
            dup = same_addr(&list[j], &list[k]);
        if (!dup)
            k++;
    }
    if (k == 0) {
        cio__free(list);
        return CIO_EAI_NONAME;
    }
    *out = list;
    *n = k;
    return 0;
}

int cio__resolve(const char *host, uint16_t port, int family, int flags, cio__addr **out, size_t *n)
{
    if (!out || !n || (family != AF_UNSPEC && family != AF_INET && family != AF_INET6))
        return -EINVAL;
    *out = NULL;
    *n = 0;
    if (!host || !host[0]) {
        if (flags & AI_PASSIVE)
            return passive(port, family, out, n);
        return -EINVAL;
    }

    cio__addr one;
    int rc = cio__addr_numeric(host, port, family, &one);
    if (rc == 0) {
        cio__addr *list = cio__malloc(sizeof(*list));
        if (!list)
            return -ENOMEM;
        *list = one;
        *out = list;
        *n = 1;
        return 0;
    }
    if (rc != -EAGAIN)
        return rc;

    struct gai_job job = {
        .host = host,
        .hints =
            {
                .ai_family = family,
                .ai_socktype = SOCK_STREAM,
                .ai_protocol = IPPROTO_TCP,
                /* Numeric hosts were handled above; the port is always numeric. */
                .ai_flags = AI_NUMERICSERV | (flags & AI_PASSIVE ? flags : flags | AI_ADDRCONFIG),
            },
    };
    snprintf(job.service, sizeof(job.service), "%u", (unsigned)port);
    intptr_t gai = 0;
    rc = cio__to_thread(gai_worker, &job, &gai, true);
    if (rc)
        return rc; /* cancelled before a worker took it, or no worker */
    if (gai != 0)
        return cio__eai_to_err((int)gai, job.saved_errno);
    rc = copy_list(job.res, out, n);
    freeaddrinfo(job.res);
    return rc;
}
