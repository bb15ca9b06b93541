/* Portable context switch on ucontext (selected with CIO_CONTEXT=ucontext).
 * Slower than the assembly paths (swapcontext saves the signal mask with a
 * syscall) but runs wherever makecontext does. */
#include <stdint.h>
#include <stdlib.h>

#include "arch/arch.h"

static void trampoline(unsigned hi_entry, unsigned lo_entry, unsigned hi_arg, unsigned lo_arg)
{
    /* makecontext passes int arguments: pointers travel as two halves. */
    void (*entry)(void *) = (void (*)(void *))(((uintptr_t)hi_entry << 32) | lo_entry);
    void *arg = (void *)(((uintptr_t)hi_arg << 32) | lo_arg);
    entry(arg);
    abort();
}

void cio__ctx_make(cio__ctx *ctx, void *base, size_t size, void (*entry)(void *), void *arg)
{
    uintptr_t e = (uintptr_t)entry, a = (uintptr_t)arg;
    getcontext(&ctx->uc);
    ctx->uc.uc_stack.ss_sp = base;
    ctx->uc.uc_stack.ss_size = size;
    ctx->uc.uc_link = NULL;
    makecontext(&ctx->uc, (void (*)(void))trampoline, 4, (unsigned)(e >> 32), (unsigned)e,
                (unsigned)(a >> 32), (unsigned)a);
}

void cio__ctx_switch(cio__ctx *from, cio__ctx *to)
{
    swapcontext(&from->uc, &to->uc);
}
