/* Fuzzing of address parsing and formatting (src/net/addr.c): the numeric
 * hosts cio_open_connection and cio_start_server take without a resolver,
 * the Unix paths and '@' abstract names of the Unix calls, and
 * cio_addr_format on arbitrary socket addresses.
 *
 * Byte 0 picks the function.  Numeric hosts: bytes 1-2 are the port, byte
 * 3 the family, the rest the host; a parse must agree with inet_pton,
 * give the requested family and port, and survive a round trip through
 * cio_addr_format.  Unix paths: the rest is the path; a parse must keep
 * to sun_path and format back to the same string.  Formatting: byte 1 is
 * the buffer size, bytes 2-3 the address length, the rest the address;
 * the result is a NUL-terminated string that fits or a documented
 * error. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cio.h"
#include "net.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_addr: %s:%d: %s\n", __FILE__, __LINE__, #cond);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The input as a C string (it stops at the first NUL). */
static char *cstring(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    CHECK(s);
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Does inet_pton take host (a "[v6]" unwrapped) in this family? */
static bool pton_ok(int family, const char *host)
{
    unsigned char a[sizeof(struct in6_addr)];
    char tmp[INET6_ADDRSTRLEN + 64];
    size_t len = strlen(host);
    if (family == AF_INET6 && len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        if (len - 2 >= sizeof(tmp))
            return false;
        memcpy(tmp, host + 1, len - 2);
        tmp[len - 2] = '\0';
        host = tmp;
    }
    return inet_pton(family, host, a) == 1;
}

static void numeric(const uint8_t *data, size_t size)
{
    static const int families[] = {AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX};
    if (size < 3)
        return;
    uint16_t port = (uint16_t)(data[0] << 8 | data[1]);
    int family = families[data[2] % 4];
    char *host = cstring(data + 3, size - 3);
    cio__addr a;
    int rc = cio__addr_numeric(host, port, family, &a);
    if (family == AF_UNIX) {
        CHECK(rc == -EINVAL);
    } else if (rc == 0) {
        CHECK(family == AF_UNSPEC || family == a.family);
        CHECK(a.sa.ss_family == a.family && cio__addr_port((struct sockaddr *)&a.sa) == port);
        CHECK(a.len ==
              (a.family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)));
        /* Round trip: "1.2.3.4:80" / "[::1%2]:80" parses back to the same. */
        char text[128];
        int n = cio_addr_format((struct sockaddr *)&a.sa, a.len, text, sizeof(text));
        CHECK(n > 0 && (size_t)n == strlen(text));
        *strrchr(text, ':') = '\0';
        cio__addr b;
        CHECK(cio__addr_numeric(text, port, family, &b) == 0);
        CHECK(b.len == a.len && memcmp(&a.sa, &b.sa, a.len) == 0);
        if (!strchr(host, '%'))
            CHECK(pton_ok(a.family, host));
    } else if (!strchr(host, '%')) {
        /* Refused: then no parser of the requested family takes it. */
        bool v4 = pton_ok(AF_INET, host), v6 = strchr(host, ':') && pton_ok(AF_INET6, host);
        if (rc == -EAGAIN)
            CHECK(!v4 && !v6);
        else
            CHECK(rc == CIO_EAI_ADDRFAMILY && (family == AF_INET ? v6 && !v4 : v4));
    } else {
        CHECK(rc == -EAGAIN || rc == CIO_EAI_ADDRFAMILY);
    }
    free(host);
}

static void unix_path(const uint8_t *data, size_t size)
{
    char *path = cstring(data, size);
    size_t n = strlen(path);
    struct sockaddr_un sun;
    socklen_t len = 0;
    int rc = cio__unix_addr(path, &sun, &len);
    bool abstract = path[0] == '@';
    if (n == 0)
        CHECK(rc == -EINVAL);
    else if (abstract ? n > sizeof(sun.sun_path) : n >= sizeof(sun.sun_path))
        CHECK(rc == -ENAMETOOLONG);
    else
        CHECK(rc == 0);
    if (rc == 0) {
        CHECK(len <= sizeof(sun) && sun.sun_family == AF_UNIX);
        CHECK(cio__unix_is_abstract(&sun, len) == abstract);
        char text[sizeof(sun.sun_path) + 2];
        CHECK(cio_addr_format((struct sockaddr *)&sun, len, text, sizeof(text)) == (int)n);
        CHECK(strcmp(text, path) == 0);
    }
    free(path);
}

static void format(const uint8_t *data, size_t size)
{
    if (size < 3)
        return;
    size_t cap = data[0];
    socklen_t len = (socklen_t)((data[1] << 8 | data[2]) % (sizeof(struct sockaddr_storage) + 1));
    /* The address in an allocation of exactly len bytes: ASan sees any
     * read beyond what the caller said it passed. */
    struct sockaddr *sa = malloc(len ? len : 1);
    char *buf = malloc(cap ? cap : 1);
    CHECK(sa && buf);
    memset(sa, 0, len);
    memcpy(sa, data + 3, size - 3 < len ? size - 3 : len);
    int rc = cio_addr_format(sa, len, buf, cap);
    CHECK(rc >= 0 || rc == -EINVAL || rc == -ENOSPC || rc == -EAFNOSUPPORT);
    if (rc >= 0)
        CHECK((size_t)rc < cap && strlen(buf) == (size_t)rc);
    free(buf);
    free(sa);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0:
        numeric(data + 1, size - 1);
        break;
    case 1:
        unix_path(data + 1, size - 1);
        break;
    default:
        format(data + 1, size - 1);
        break;
    }
    return 0;
}
