/* cio_soak: the soak test (docs/reliability.md "Soak").
 *
 *   SOAK_SECONDS=60 SOAK_CONNS=1000 build/tests/soak/cio_soak
 *
 * Forks a server process (soak_server.c), drives SOAK_CONNS connections
 * against it for SOAK_SECONDS (soak_load.c), and fails (exit 1) on any
 * payload mismatch, lost byte, unexpected error, or server RSS or open fd
 * count at the end of the run above 1.1x its value at 10% of the run.
 * SOAK_SEED picks the random plan (default: from the clock; printed). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "soak.h"

void soak_tally_add(struct soak_tally *t, int code)
{
    size_t i = 0;
    while (i < t->n && t->code[i] != code)
        i++;
    if (i == t->n) {
        if (t->n == SOAK_MAX_KINDS)
            i = SOAK_MAX_KINDS - 1; /* lump the rarest tail together */
        else
            t->code[t->n++] = code;
    }
    t->count[i]++;
}

void soak_tally_print(const struct soak_tally *t, const char *label)
{
    printf("  %s:", label);
    if (t->n == 0)
        printf(" none");
    for (size_t i = 0; i < t->n; i++)
        printf(" %s=%llu", t->code[i] ? cio_err_name(t->code[i]) : "0",
               (unsigned long long)t->count[i]);
    printf("\n");
    fflush(stdout);
}

static double env_num(const char *name, double def)
{
    const char *v = getenv(name);
    return v && *v ? strtod(v, NULL) : def;
}

/* A self-signed certificate for localhost, made with the openssl tool. */
static int make_cert(const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2"
             " -subj /CN=localhost -addext subjectAltName=DNS:localhost"
             " -keyout %s/key.pem -out %s/cert.pem 2>/dev/null",
             dir, dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static pid_t start_server(const char *dir, struct soak_addrs *addrs, int *stop_fd)
{
    int ready[2], stop[2];
    if (pipe(ready) || pipe(stop))
        return -1;
    char cert[300], key[300];
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(ready[0]);
        close(stop[1]);
        _exit(soak_server_main(ready[1], stop[0], dir, cert, key));
    }
    close(ready[1]);
    close(stop[0]);
    *stop_fd = stop[1];
    ssize_t n = pid > 0 ? read(ready[0], addrs, sizeof(*addrs)) : -1;
    close(ready[0]);
    if (n != (ssize_t)sizeof(*addrs)) {
        fprintf(stderr, "soak: the server did not start\n");
        if (pid > 0) {
            close(*stop_fd);
            waitpid(pid, NULL, 0);
        }
        return -1;
    }
    return pid;
}

/* Sample i at or after 10% of the run, and the last one. */
static bool flat(const char *what, const struct soak_load_result *r, const long *v, double secs)
{
    size_t warm = 0;
    while (warm + 1 < r->nsamples && r->sample_t[warm] < 0.1 * secs - 0.5)
        warm++;
    if (r->nsamples < 2 || warm == r->nsamples - 1) {
        printf("  %s: too few samples to judge (%zu)\n", what, r->nsamples);
        return false;
    }
    long a = v[warm], b = v[r->nsamples - 1];
    bool ok = a > 0 && b <= a + a / 10;
    printf("  %s at 10%% (t=%.0f s): %ld, at the end (t=%.0f s): %ld, ratio %.3f (max 1.1)%s\n",
           what, r->sample_t[warm], a, r->sample_t[r->nsamples - 1], b, a > 0 ? (double)b / a : 0,
           ok ? "" : "  FAIL");
    return ok;
}

static bool report(const struct soak_load_result *r, double secs, int load_rc)
{
    printf("soak results:\n");
    printf("  messages %llu, bytes sent %llu, bytes echoed %llu\n", (unsigned long long)r->messages,
           (unsigned long long)r->bytes_sent, (unsigned long long)r->bytes_echoed);
    printf("  connections: closed %llu, half-closed %llu, reset mid-stream %llu\n",
           (unsigned long long)r->conns_closed, (unsigned long long)r->conns_half_closed,
           (unsigned long long)r->conns_reset);
    printf("  mismatches %llu, lost bytes %llu\n", (unsigned long long)r->mismatches,
           (unsigned long long)r->lost_bytes);
    soak_tally_print(&r->errors, "client errors by kind");
    bool ok = load_rc == 0 && r->messages > 0 && r->mismatches == 0 && r->lost_bytes == 0 &&
              r->errors.n == 0;
    ok &= flat("server RSS (KiB)", r, r->sample_rss, secs);
    ok &= flat("server open fds", r, r->sample_fds, secs);
    return ok;
}

int main(void)
{
    struct soak_load_cfg cfg = {0};
    cfg.seconds = env_num("SOAK_SECONDS", 60);
    cfg.conns = (unsigned)env_num("SOAK_CONNS", 1000);
    cfg.seed = (uint64_t)env_num("SOAK_SEED", (double)(time(NULL) % 1000000));
    if (cfg.seconds < 10 || cfg.conns < 1) {
        fprintf(stderr, "soak: SOAK_SECONDS must be >= 10 and SOAK_CONNS >= 1\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    char dir[] = "/tmp/cio-soak-XXXXXX", cafile[300];
    if (!mkdtemp(dir) || make_cert(dir)) {
        fprintf(stderr, "soak: cannot make the temporary directory or certificate\n");
        return 1;
    }
    snprintf(cafile, sizeof(cafile), "%s/cert.pem", dir);
    cfg.dir = dir;
    cfg.cafile = cafile;
    printf("soak: %.0f s, %u connections over tcp/unix/tls x echo/line, seed %llu\n", cfg.seconds,
           cfg.conns, (unsigned long long)cfg.seed);
    int stop_fd;
    pid_t pid = start_server(dir, &cfg.addrs, &stop_fd);
    int load_rc = -1, status = -1;
    static struct soak_load_result r;
    if (pid > 0) {
        cfg.server_pid = pid;
        load_rc = soak_load_run(&cfg, &r);
        close(stop_fd); /* the server stops on EOF */
        waitpid(pid, &status, 0);
    }
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "soak: could not remove %s\n", dir);
    if (pid <= 0)
        return 1;
    bool ok = report(&r, cfg.seconds, load_rc);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("  server exit status %d: FAIL\n", status);
        ok = false;
    }
    printf("soak: %s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
