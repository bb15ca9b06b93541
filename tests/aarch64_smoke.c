/* Smoke test of the runtime core for a new context-switch port (AArch64
 * under qemu, the ucontext fallback): spawn, yield, sleep, join, cancel,
 * timeout scopes, and that a switch preserves every callee-saved register
 * (integer and floating point) and keeps the stack aligned.  Uses only the
 * public API.  Built and run by tools/cross_aarch64.sh; not a ctest test.
 * Prints one line per check and exits 0 if all pass. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cio.h>

static int failures, checks;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                                 \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
        }                                                                                          \
    } while (0)

/* ---- yield ping-pong: strict alternation ----------------------------------- */

static char trace[64];
static size_t ntrace;

static intptr_t pinger(void *arg)
{
    char c = *(const char *)arg;
    for (int i = 0; i < 8; i++) {
        if (ntrace < sizeof(trace) - 1)
            trace[ntrace++] = c;
        if (cio_yield() != 0)
            return -1;
    }
    return c;
}

static void test_yield(void)
{
    cio_task *a, *b;
    intptr_t ra = 0, rb = 0;
    CHECK(cio_spawn(&a, pinger, "A", NULL) == 0, "spawn A");
    CHECK(cio_spawn(&b, pinger, "B", NULL) == 0, "spawn B");
    CHECK(cio_join(a, &ra) == 0 && ra == 'A', "join A: %ld", (long)ra);
    CHECK(cio_join(b, &rb) == 0 && rb == 'B', "join B: %ld", (long)rb);
    CHECK(strcmp(trace, "ABABABABABABABAB") == 0, "trace %s", trace);
    printf("ok   yield ping-pong: %s\n", trace);
}

/* ---- callee-saved registers survive switches -------------------------------- */

/* Many integer and floating-point values live across cio_yield: the
 * compiler keeps them in callee-saved registers (x19-x28 and d8-d15 on
 * AArch64; rbx, rbp, r12-r15 on x86-64), so a switch that loses one
 * corrupts the sums. */
static intptr_t register_keeper(void *arg)
{
    long seed = (long)(intptr_t)arg;
    long i0 = seed, i1 = seed * 3, i2 = seed * 5, i3 = seed * 7, i4 = seed * 11;
    long i5 = seed * 13, i6 = seed * 17, i7 = seed * 19, i8 = seed * 23, i9 = seed * 29;
    double d0 = seed * 0.5, d1 = seed * 1.5, d2 = seed * 2.5, d3 = seed * 3.5;
    double d4 = seed * 4.5, d5 = seed * 5.5, d6 = seed * 6.5, d7 = seed * 7.5;
    for (int round = 0; round < 100; round++) {
        cio_yield();
        i0 += 1, i1 += 2, i2 += 3, i3 += 4, i4 += 5, i5 += 6, i6 += 7, i7 += 8, i8 += 9, i9 += 10;
        d0 += 0.25, d1 += 0.25, d2 += 0.25, d3 += 0.25;
        d4 += 0.25, d5 += 0.25, d6 += 0.25, d7 += 0.25;
    }
    long isum = i0 + i1 + i2 + i3 + i4 + i5 + i6 + i7 + i8 + i9;
    double dsum = d0 + d1 + d2 + d3 + d4 + d5 + d6 + d7;
    long iwant = seed * (1 + 3 + 5 + 7 + 11 + 13 + 17 + 19 + 23 + 29) + 100 * 55;
    double dwant = seed * 32.0 + 8 * 25.0;
    return isum == iwant && dsum == dwant;
}

static void test_registers(void)
{
    enum { N = 4 };
    cio_task *t[N];
    intptr_t ok[N];
    for (int i = 0; i < N; i++)
        CHECK(cio_spawn(&t[i], register_keeper, (void *)(intptr_t)((i + 1) * 1000), NULL) == 0,
              "spawn");
    CHECK(cio_gather(t, N, ok) == 0, "gather");
    for (int i = 0; i < N; i++)
        CHECK(ok[i] == 1, "task %d lost a callee-saved register", i);
    printf("ok   callee-saved registers preserved across 400 switches\n");
}

/* ---- stack: alignment, varargs with doubles, deep recursion ----------------- */

static int depth_sum(int n)
{
    volatile char pad[1024];
    pad[0] = (char)n;
    if (n == 0)
        return pad[0];
    return depth_sum(n - 1) + 1 + pad[0] - (char)n;
}

static intptr_t stack_user(void *arg)
{
    (void)arg;
    char buf[64];
    _Alignas(16) long double ld = 1.25L;
    snprintf(buf, sizeof(buf), "%.3f %Lg", sqrt(2.0), ld);
    cio_yield();
    int d = depth_sum(100); /* ~100 KiB of the 256 KiB stack */
    return strcmp(buf, "1.414 1.25") == 0 && d == 100 && ((uintptr_t)&ld & 15) == 0;
}

static void test_stack(void)
{
    cio_task *t;
    intptr_t r = 0;
    CHECK(cio_spawn(&t, stack_user, NULL, &(cio_task_opts){.name = "stack"}) == 0, "spawn");
    CHECK(cio_join(t, &r) == 0 && r == 1, "printf/alignment/recursion on a task stack");
    printf("ok   printf of doubles, 16-byte alignment, 100 KiB recursion on a task stack\n");
}

/* ---- sleep, timeout scope, cancel, wait_for --------------------------------- */

static intptr_t long_sleeper(void *arg)
{
    (void)arg;
    return cio_sleep(10.0);
}

static void test_time(void)
{
    double t0 = cio_time();
    CHECK(cio_sleep(0.05) == 0, "sleep");
    double slept = cio_time() - t0;
    CHECK(slept >= 0.045 && slept < 2.0, "slept %.3f s", slept);
    printf("ok   cio_sleep(0.05) took %.3f s\n", slept);

    cio_timeout scope;
    t0 = cio_time();
    cio_timeout_enter(&scope, 0.02);
    int rc = cio_sleep(5.0);
    bool expired = cio_timeout_exit(&scope);
    double waited = cio_time() - t0;
    CHECK(rc == -ETIMEDOUT, "sleep in scope: %s", cio_err_name(rc));
    CHECK(expired, "scope not expired");
    CHECK(waited >= 0.015 && waited < 2.0, "waited %.3f s", waited);
    CHECK(cio_sleep(0.001) == 0, "sleep after the scope");
    printf("ok   timeout scope of 0.02 s: %s after %.3f s\n", cio_err_name(rc), waited);

    cio_task *t;
    intptr_t r = 0;
    CHECK(cio_spawn(&t, long_sleeper, NULL, NULL) == 0, "spawn");
    cio_yield(); /* let it start sleeping */
    CHECK(cio_cancel(t), "cancel");
    CHECK(cio_join(t, &r) == 0 && r == -ECANCELED, "cancelled result %ld", (long)r);
    printf("ok   cancel: the sleeper returned %s\n", cio_err_name((int)r));

    CHECK(cio_spawn(&t, long_sleeper, NULL, NULL) == 0, "spawn");
    t0 = cio_time();
    rc = cio_wait_for(t, 0.02, &r);
    CHECK(rc == -ETIMEDOUT, "wait_for: %s", cio_err_name(rc));
    printf("ok   wait_for 0.02 s: %s after %.3f s\n", cio_err_name(rc), cio_time() - t0);
}

/* ---- many tasks: the stack pool's chunks and reuse --------------------------- */

static intptr_t echo(void *arg)
{
    cio_yield();
    return (intptr_t)arg;
}

static void test_many(void)
{
    enum { N = 1000 };
    static cio_task *t[N];
    static intptr_t r[N];
    for (int round = 0; round < 3; round++) {
        for (intptr_t i = 0; i < N; i++)
            CHECK(cio_spawn(&t[i], echo, (void *)i, NULL) == 0, "spawn %ld", (long)i);
        CHECK(cio_gather(t, N, r) == 0, "gather");
        for (intptr_t i = 0; i < N; i++)
            if (r[i] != i) {
                CHECK(r[i] == i, "result %ld of %ld", (long)r[i], (long)i);
                break;
            }
    }
    printf("ok   3 x %d tasks spawned, gathered and recycled\n", N);
}

static intptr_t smoke_main(void *arg)
{
    (void)arg;
    test_yield();
    test_registers();
    test_stack();
    test_time();
    test_many();
    return 42;
}

int main(void)
{
    intptr_t rc = cio_run(smoke_main, NULL);
    CHECK(rc == 42, "cio_run returned %ld", (long)rc);
    printf("%s: %d checks, %d failed\n", failures ? "FAIL" : "PASS", checks, failures);
    return failures ? 1 : 0;
}
