/* TLS load generator for bench/tls_bench.sh: plain OpenSSL on
 * non-blocking sockets and one epoll loop (no cio), so it measures every
 * server alike.  Talks to 127.0.0.1 only; an alarm bounds every run.
 *
 *   tls_load handshake --port P [--conns K] [--count N] [--duration S] [--warmup S] [--spid PID]
 *   tls_load stream    --port P [--conns C] [--chunk 65536] [--depth 4] [--verify] ...
 *   tls_load send      --port P [--conns C] [--chunk 65536] ...
 *
 * handshake: K connections at a time (1 = strictly sequential), each a
 *   fresh TCP connection and a full handshake (no session is ever
 *   offered for resumption), then close_notify and wait for the server to
 *   close: one connection's whole life as the server sees it.  Reports
 *   handshakes/s and, with --spid, the server's CPU time per handshake.
 *   --count N stops after N handshakes (the duration still bounds it).
 * stream: C connections each write `chunk`-byte application writes as
 *   fast as the window allows (at most depth chunks unanswered) and read
 *   the echo back; MB/s echoed (1 MB = 1e6 bytes).  --verify checks every
 *   echoed byte against what was sent (the pattern scheme of
 *   bench/harness/loadgen.c).
 * send: the same writes, nothing comes back (the server discards): MB/s
 *   sent.  What the socket buffers still hold at the end (a few MB over
 *   GB sent) is not subtracted.
 *
 * Output: one line of key=value (hs_per_s or mbps, srv_cpu (% of one
 * core), srv_us_per_hs or srv_us_per_mb, lg_cpu, errors, ...), plus the
 * negotiated protocol, cipher, key exchange group and server key type.
 * Options: --ciphersuites (TLS 1.3 suites to offer, default
 * TLS_AES_256_GCM_SHA384: what a cio server picks by default),
 * --tls12 (offer TLS 1.2 only, with --cipher-list). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

enum { M_HANDSHAKE, M_STREAM, M_SEND };

static struct {
    int mode;
    int port;
    int conns;
    size_t chunk;
    size_t depth;
    double duration, warmup;
    int spid;
    uint64_t count;
    int verify;
    int tls12;
    const char *suites;
    const char *cipher_list;
} opt = {M_HANDSHAKE, 0, 1, 65536, 4, 5.0, 1.0, 0, 0, 0, 0, "TLS_AES_256_GCM_SHA384", NULL};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* utime + stime of a whole process (all threads), in seconds; < 0 if unknown. */
static double proc_cpu_s(int pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long ut, st;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void die(const char *what)
{
    perror(what);
    exit(2);
}

static void die_ssl(const char *what)
{
    fprintf(stderr, "tls_load: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(2);
}

/* ---- the byte pattern (stream modes) -------------------------------------------- */

#define PAT_LEN 1048573u /* prime: consecutive chunks see different bytes */
static unsigned char *pat;

static void pattern_init(size_t maxio)
{
    pat = malloc(PAT_LEN + maxio);
    if (!pat)
        die("malloc");
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < PAT_LEN; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        pat[i] = (unsigned char)(x >> 24);
    }
    for (size_t i = 0; i < maxio; i++)
        pat[PAT_LEN + i] = pat[i % PAT_LEN];
}

/* ---- connections ------------------------------------------------------------------ */

enum { S_CONNECTING, S_HANDSHAKE, S_RUN, S_SHUTDOWN, S_DEAD };

struct conn {
    int fd;
    int id;
    int state;
    uint32_t events; /* registered with epoll */
    SSL *ssl;
    uint64_t t_start; /* handshake mode: when the connect began */
    uint64_t start;   /* stream offset 0 is pat[start] */
    uint64_t tx, rx;  /* application bytes written / read back */
};

static SSL_CTX *ctx;
static int epfd;
static struct sockaddr_in addr;
static struct conn *cs;
static int measuring, stopping;
static uint64_t errors, done_meas, bytes_meas, lat_sum_ns, lat_n;
static uint64_t *lats;
static size_t lats_cap;
static unsigned char *rbuf;
static size_t rbuf_len;
static char proto[32], cipher[64], group[32], keytype[48], sigalg[64];

static void set_events(struct conn *c, uint32_t ev)
{
    if (c->events == ev)
        return;
    struct epoll_event e = {.events = ev, .data.ptr = c};
    if (epoll_ctl(epfd, c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &e) < 0)
        die("epoll_ctl");
    c->events = ev;
}

static void conn_close(struct conn *c)
{
    if (c->ssl)
        SSL_free(c->ssl);
    c->ssl = NULL;
    if (c->fd >= 0)
        close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
    c->events = 0;
}

static void conn_fail(struct conn *c, const char *why)
{
    if (!stopping) {
        errors++;
        if (errors <= 5) {
            unsigned long e = ERR_peek_error();
            fprintf(stderr, "tls_load: conn %d: %s%s%s\n", c->id, why, e ? ": " : "",
                    e ? ERR_reason_error_string(e) : "");
        }
    }
    ERR_clear_error();
    conn_close(c);
    c->state = S_DEAD;
}

static void conn_start(struct conn *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0)
        die("socket");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->events = 0;
    c->t_start = now_ns();
    c->state = S_CONNECTING;
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS)
        die("connect");
    set_events(c, EPOLLOUT);
}

static void record_info(SSL *ssl)
{
    if (cipher[0])
        return;
    snprintf(proto, sizeof proto, "%s", SSL_get_version(ssl));
    snprintf(cipher, sizeof cipher, "%s", SSL_get_cipher_name(ssl));
    EVP_PKEY *tmp = NULL;
    if (SSL_get_peer_tmp_key(ssl, &tmp)) {
        int id = EVP_PKEY_get_id(tmp);
        const char *g = id == EVP_PKEY_EC ? EVP_PKEY_get0_type_name(tmp) : OBJ_nid2sn(id);
        char gname[32];
        size_t gl = 0;
        if (id == EVP_PKEY_EC && EVP_PKEY_get_group_name(tmp, gname, sizeof gname, &gl))
            g = gname;
        snprintf(group, sizeof group, "%s", g ? g : "?");
        EVP_PKEY_free(tmp);
    }
    int type = NID_undef, md = NID_undef;
    if (SSL_get_peer_signature_type_nid(ssl, &type) && SSL_get_peer_signature_nid(ssl, &md))
        snprintf(sigalg, sizeof sigalg, "%s+%s", type == EVP_PKEY_EC ? "ECDSA" : OBJ_nid2sn(type),
                 OBJ_nid2sn(md));
    X509 *cert = SSL_get1_peer_certificate(ssl);
    EVP_PKEY *pk = cert ? X509_get0_pubkey(cert) : NULL;
    if (pk) {
        int id = EVP_PKEY_get_id(pk);
        char gname[32];
        size_t gl = 0;
        if (id == EVP_PKEY_EC && EVP_PKEY_get_group_name(pk, gname, sizeof gname, &gl))
            snprintf(keytype, sizeof keytype, "EC-%s", gname);
        else
            snprintf(keytype, sizeof keytype, "%s-%d", OBJ_nid2sn(id), EVP_PKEY_get_bits(pk));
    }
    X509_free(cert);
}

/* Wait for what SSL asked for; anything else fails the connection. */
static int want(struct conn *c, int r, const char *what)
{
    int err = SSL_get_error(c->ssl, r);
    if (err == SSL_ERROR_WANT_READ) {
        set_events(c, EPOLLIN);
        return 0;
    }
    if (err == SSL_ERROR_WANT_WRITE) {
        set_events(c, EPOLLIN | EPOLLOUT);
        return 0;
    }
    char why[96];
    snprintf(why, sizeof why, "%s: SSL error %d (%s)", what, err,
             err == SSL_ERROR_SYSCALL ? (errno ? strerror(errno) : "EOF") : "protocol");
    conn_fail(c, why);
    return -1;
}

/* Handshake mode: one connection done; start the next one. */
static void hs_done(struct conn *c)
{
    conn_close(c);
    if (measuring && !stopping) {
        uint64_t l = now_ns() - c->t_start;
        done_meas++;
        lat_sum_ns += l;
        if (lat_n < lats_cap)
            lats[lat_n] = l;
        lat_n++;
    }
    if (!stopping)
        conn_start(c);
}

static void stream_write(struct conn *c)
{
    /* Send mode: a server that keeps up would keep us here for ever, so
     * go back to the loop (and its clock) after a few chunks; EPOLLOUT
     * stays registered. */
    uint64_t budget = c->tx + 4 * opt.chunk;
    for (;;) {
        uint64_t limit = opt.mode == M_SEND ? budget : c->rx + opt.depth * opt.chunk;
        if (c->tx >= limit) {
            set_events(c, opt.mode == M_SEND ? EPOLLIN | EPOLLOUT : EPOLLIN);
            return;
        }
        size_t n = opt.chunk;
        if (limit - c->tx < n)
            n = (size_t)(limit - c->tx);
        size_t w = 0;
        ERR_clear_error();
        int r = SSL_write_ex(c->ssl, pat + (c->start + c->tx) % PAT_LEN, n, &w);
        if (!r) {
            if (SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_READ)
                set_events(c, EPOLLIN);
            else if (want(c, r, "write") == 0)
                set_events(c, EPOLLIN | EPOLLOUT);
            return;
        }
        c->tx += w;
        if (opt.mode == M_SEND && measuring)
            bytes_meas += w;
    }
}

static void stream_read(struct conn *c)
{
    for (;;) {
        size_t n = 0;
        ERR_clear_error();
        int r = SSL_read_ex(c->ssl, rbuf, rbuf_len, &n);
        if (!r) {
            int err = SSL_get_error(c->ssl, r);
            if (err == SSL_ERROR_WANT_READ)
                break;
            conn_fail(c, err == SSL_ERROR_ZERO_RETURN ? "server closed" : "read failed");
            return;
        }
        if (opt.mode == M_SEND)
            continue; /* session tickets only: there is no application data */
        if (c->rx + n > c->tx) {
            conn_fail(c, "received more bytes than were sent");
            return;
        }
        if (opt.verify && memcmp(rbuf, pat + (c->start + c->rx) % PAT_LEN, n) != 0) {
            conn_fail(c, "echoed bytes differ from what was sent");
            return;
        }
        c->rx += n;
        if (measuring)
            bytes_meas += n;
    }
    stream_write(c);
}

static void step(struct conn *c, uint32_t ev)
{
    switch (c->state) {
    case S_CONNECTING: {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            errno = err;
            conn_fail(c, strerror(err));
            if (opt.mode == M_HANDSHAKE && !stopping)
                conn_start(c);
            return;
        }
        c->ssl = SSL_new(ctx);
        if (!c->ssl || !SSL_set_fd(c->ssl, c->fd))
            die_ssl("SSL_new");
        SSL_set_connect_state(c->ssl);
        c->state = S_HANDSHAKE;
    }
        /* fall through */
    case S_HANDSHAKE: {
        ERR_clear_error();
        int r = SSL_do_handshake(c->ssl);
        if (r != 1) {
            if (want(c, r, "handshake") && opt.mode == M_HANDSHAKE && !stopping)
                conn_start(c);
            return;
        }
        record_info(c->ssl);
        if (opt.mode != M_HANDSHAKE) {
            c->state = S_RUN;
            set_events(c, EPOLLIN);
            return; /* the load starts when every connection is up */
        }
        c->state = S_SHUTDOWN;
        ERR_clear_error();
        SSL_shutdown(c->ssl); /* close_notify; the server answers and closes */
    }
        /* fall through */
    case S_SHUTDOWN:
        for (;;) {
            char junk[4096];
            size_t n;
            ERR_clear_error();
            int r = SSL_read_ex(c->ssl, junk, sizeof junk, &n);
            if (r)
                continue;
            int err = SSL_get_error(c->ssl, r);
            if (err == SSL_ERROR_WANT_READ) {
                set_events(c, EPOLLIN);
                return;
            }
            /* close_notify, or the server's FIN / RST: the server is done. */
            if (err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL) {
                ERR_clear_error();
                hs_done(c);
                return;
            }
            if (want(c, r, "shutdown") == 0)
                return;
            if (!stopping)
                conn_start(c);
            return;
        }
    case S_RUN:
        if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
            stream_read(c);
        if (c->state == S_RUN && (ev & EPOLLOUT))
            stream_write(c);
        return;
    default:
        return;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void usage(void)
{
    fprintf(stderr, "usage: tls_load handshake|stream|send --port P [--conns N] [--count N]\n"
                    "       [--duration S] [--warmup S] [--spid PID] [--chunk BYTES] [--depth "
                    "CHUNKS] [--verify]\n"
                    "       [--ciphersuites LIST] [--tls12 [--cipher-list LIST]]\n");
    exit(2);
}

static void parse(int argc, char **argv)
{
    static const struct option lo[] = {{"port", required_argument, 0, 'p'},
                                       {"conns", required_argument, 0, 'c'},
                                       {"chunk", required_argument, 0, 's'},
                                       {"depth", required_argument, 0, 'd'},
                                       {"duration", required_argument, 0, 't'},
                                       {"warmup", required_argument, 0, 'w'},
                                       {"spid", required_argument, 0, 'S'},
                                       {"verify", no_argument, 0, 'V'},
                                       {"tls12", no_argument, 0, '2'},
                                       {"ciphersuites", required_argument, 0, 'C'},
                                       {"cipher-list", required_argument, 0, 'L'},
                                       {"count", required_argument, 0, 'n'},
                                       {0, 0, 0, 0}};
    if (argc < 2)
        usage();
    if (strcmp(argv[1], "handshake") == 0)
        opt.mode = M_HANDSHAKE;
    else if (strcmp(argv[1], "stream") == 0)
        opt.mode = M_STREAM;
    else if (strcmp(argv[1], "send") == 0)
        opt.mode = M_SEND;
    else
        usage();
    optind = 2;
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'p':
            opt.port = atoi(optarg);
            break;
        case 'c':
            opt.conns = atoi(optarg);
            break;
        case 's':
            opt.chunk = strtoull(optarg, NULL, 10);
            break;
        case 'd':
            opt.depth = strtoull(optarg, NULL, 10);
            break;
        case 't':
            opt.duration = atof(optarg);
            break;
        case 'w':
            opt.warmup = atof(optarg);
            break;
        case 'S':
            opt.spid = atoi(optarg);
            break;
        case 'V':
            opt.verify = 1;
            break;
        case '2':
            opt.tls12 = 1;
            break;
        case 'C':
            opt.suites = optarg;
            break;
        case 'L':
            opt.cipher_list = optarg;
            break;
        case 'n':
            opt.count = strtoull(optarg, NULL, 10);
            break;
        default:
            usage();
        }
    }
    if (opt.port <= 0 || opt.port > 65535 || opt.conns <= 0 || opt.conns > 10000 ||
        opt.chunk == 0 || opt.chunk > (1u << 24) || opt.depth == 0 || !(opt.duration > 0) ||
        opt.duration > 3600 || opt.warmup < 0 || opt.warmup > 3600)
        usage();
}

static void make_ctx(void)
{
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        die_ssl("SSL_CTX_new");
    /* Nothing is verified (the servers use throwaway certificates), but
     * the server's CertificateVerify signature is always checked. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF); /* never resume */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* Fewer recv calls on our side: read ahead into a 128 KiB buffer. */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_default_read_buffer_len(ctx, 128 * 1024);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (opt.tls12) {
        SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        if (opt.cipher_list && !SSL_CTX_set_cipher_list(ctx, opt.cipher_list))
            die_ssl("--cipher-list");
    } else {
        SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
        if (!SSL_CTX_set_ciphersuites(ctx, opt.suites))
            die_ssl("--ciphersuites");
    }
}

int main(int argc, char **argv)
{
    parse(argc, argv);
    alarm((unsigned)(opt.warmup + opt.duration + 30));
    signal(SIGPIPE, SIG_IGN);
    make_ctx();
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)opt.port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (opt.mode != M_HANDSHAKE)
        pattern_init(opt.chunk);
    rbuf_len = 256 * 1024;
    rbuf = malloc(rbuf_len);
    lats_cap = 1u << 20;
    lats = malloc(lats_cap * sizeof *lats);
    epfd = epoll_create1(0);
    cs = calloc((size_t)opt.conns, sizeof *cs);
    if (!rbuf || !lats || epfd < 0 || !cs)
        die("setup");
    for (int i = 0; i < opt.conns; i++) {
        cs[i].id = i;
        cs[i].fd = -1;
        cs[i].start = (uint64_t)i * 104729u % PAT_LEN;
        conn_start(&cs[i]);
    }
    struct epoll_event evs[256];

    /* Stream modes: every connection handshaken before the load starts. */
    if (opt.mode != M_HANDSHAKE) {
        uint64_t deadline = now_ns() + 15000000000ull;
        for (;;) {
            int up = 0;
            for (int i = 0; i < opt.conns; i++) {
                if (cs[i].state == S_DEAD) {
                    fprintf(stderr, "tls_load: connection %d failed to set up\n", i);
                    return 3;
                }
                up += cs[i].state == S_RUN;
            }
            if (up == opt.conns)
                break;
            if (now_ns() > deadline) {
                fprintf(stderr, "tls_load: %d connections not up in 15 s\n", opt.conns - up);
                return 3;
            }
            int n = epoll_wait(epfd, evs, 256, 100);
            for (int i = 0; i < n; i++)
                step(evs[i].data.ptr, evs[i].events);
        }
        for (int i = 0; i < opt.conns; i++)
            stream_write(&cs[i]);
    }

    uint64_t t0 = now_ns();
    uint64_t t_meas = t0 + (uint64_t)(opt.warmup * 1e9),
             t_end = t_meas + (uint64_t)(opt.duration * 1e9);
    uint64_t tm0 = 0;
    double cpu0 = 0, scpu0 = 0;
    for (;;) {
        uint64_t t = now_ns();
        if (!measuring && t >= t_meas) {
            measuring = 1;
            done_meas = bytes_meas = lat_sum_ns = lat_n = 0;
            tm0 = t;
            cpu0 = self_cpu_s();
            scpu0 = opt.spid ? proc_cpu_s(opt.spid) : 0;
        }
        if (t >= t_end || (opt.count && done_meas >= opt.count))
            break;
        int to = (int)(((measuring ? t_end : t_meas) - t + 999999) / 1000000);
        int n = epoll_wait(epfd, evs, 256, to > 100 ? 100 : to);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int i = 0; i < n; i++)
            step(evs[i].data.ptr, evs[i].events);
        if (opt.mode != M_HANDSHAKE) {
            int alive = 0;
            for (int i = 0; i < opt.conns; i++)
                alive += cs[i].state == S_RUN;
            if (!alive) {
                fprintf(stderr, "tls_load: every connection failed\n");
                return 1;
            }
        }
    }
    uint64_t tm1 = now_ns();
    double cpu1 = self_cpu_s();
    double scpu1 = opt.spid ? proc_cpu_s(opt.spid) : 0;
    stopping = 1;
    for (int i = 0; i < opt.conns; i++)
        conn_close(&cs[i]);

    double secs = (double)(tm1 - tm0) / 1e9;
    double srv = opt.spid && scpu0 >= 0 && scpu1 >= 0 ? scpu1 - scpu0 : -1;
    printf("mode=%s conns=%d dur=%.2f ", argv[1], opt.conns, secs);
    if (opt.mode == M_HANDSHAKE) {
        size_t k = lat_n < lats_cap ? (size_t)lat_n : lats_cap;
        qsort(lats, k, sizeof *lats, cmp_u64);
        printf("hs=%llu hs_per_s=%.1f srv_us_per_hs=%.1f lat_mean_us=%.1f lat_p50_us=%.1f "
               "lat_p99_us=%.1f ",
               (unsigned long long)done_meas, (double)done_meas / secs,
               srv >= 0 && done_meas ? srv * 1e6 / (double)done_meas : -1,
               lat_n ? (double)lat_sum_ns / (double)lat_n / 1e3 : 0,
               k ? (double)lats[k / 2] / 1e3 : 0, k ? (double)lats[k * 99 / 100] / 1e3 : 0);
    } else {
        printf("chunk=%zu depth=%zu mbps=%.1f srv_us_per_mb=%.1f ", opt.chunk, opt.depth,
               (double)bytes_meas / secs / 1e6,
               srv >= 0 && bytes_meas ? srv * 1e6 / ((double)bytes_meas / 1e6) : -1);
    }
    printf("srv_cpu=%.1f lg_cpu=%.1f errors=%llu proto=%s cipher=%s group=%s key=%s sig=%s\n",
           srv >= 0 ? 100.0 * srv / secs : -1, 100.0 * (cpu1 - cpu0) / secs,
           (unsigned long long)errors, proto[0] ? proto : "?", cipher[0] ? cipher : "?",
           group[0] ? group : "?", keytype[0] ? keytype : "?", sigalg[0] ? sigalg : "?");
    SSL_CTX_free(ctx);
    return errors ? 1 : 0;
}
