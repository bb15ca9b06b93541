/* Stack overflow reporting.  A task that runs off its stack hits the guard
 * page below it; the SIGSEGV handler, running on an alternate signal
 * stack (the task's own stack is exhausted), checks whether the fault is
 * in the running task's guard page and if so prints the task's name and
 * aborts.  Any other SIGSEGV is handed to the previous disposition. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/loop.h"

enum { ALT_STACK_SIZE = 64 * 1024 };

/* The signal disposition is per process, the alternate stack per thread:
 * the handler is installed by the first loop and removed by the last. */
static pthread_mutex_t handler_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned handler_users;
static struct sigaction old_action;

static _Thread_local struct {
    stack_t alt, old_alt;
    bool installed;
} overflow;

static void say(const char *s)
{
    ssize_t ignored = write(STDERR_FILENO, s, strlen(s));
    (void)ignored;
}

static void on_segv(int sig, siginfo_t *info, void *uctx)
{
    cio_loop *loop = cio__loop();
    cio_task *t = loop ? loop->current : NULL;
    if (t && t->stack && cio__stack_in_guard(t->stack, info->si_addr)) {
        say("cio: stack overflow in task '");
        say(cio_task_name(t));
        say("': raise its stack size (cio_task_opts.stack_size or cio_set_default_stack_size)\n");
        signal(SIGABRT, SIG_DFL);
        abort();
    }
    /* Not ours: restore the previous handler and let the fault recur. */
    if ((old_action.sa_flags & SA_SIGINFO) && old_action.sa_sigaction) {
        old_action.sa_sigaction(sig, info, uctx);
        return;
    }
    sigaction(SIGSEGV, &old_action, NULL);
}

int cio__stack_overflow_handler_install(void)
{
    overflow.alt.ss_sp =
        cio__mmap(NULL, ALT_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (overflow.alt.ss_sp == MAP_FAILED)
        return cio__err();
    overflow.alt.ss_size = ALT_STACK_SIZE;
    overflow.alt.ss_flags = 0;
    if (sigaltstack(&overflow.alt, &overflow.old_alt) < 0) {
        int err = cio__err();
        cio__munmap(overflow.alt.ss_sp, ALT_STACK_SIZE);
        return err;
    }
    pthread_mutex_lock(&handler_lock);
    if (handler_users++ == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = on_segv;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, &old_action);
    }
    pthread_mutex_unlock(&handler_lock);
    overflow.installed = true;
    return 0;
}

void cio__stack_overflow_handler_remove(void)
{
    if (!overflow.installed)
        return;
    pthread_mutex_lock(&handler_lock);
    if (--handler_users == 0)
        sigaction(SIGSEGV, &old_action, NULL);
    pthread_mutex_unlock(&handler_lock);
    sigaltstack(&overflow.old_alt, NULL);
    cio__munmap(overflow.alt.ss_sp, ALT_STACK_SIZE);
    overflow.installed = false;
}
