/* Initial frame of a new context for the assembly switches: the frame that
 * cio__ctx_switch pops, arranged so its return lands in
 * cio__ctx_trampoline with entry and arg in callee-saved registers. */
#include <stdint.h>
#include <string.h>

#include "arch/arch.h"

#if !defined(CIO_CONTEXT_UCONTEXT)

void cio__ctx_trampoline(void);

void cio__ctx_make(cio__ctx *ctx, void *base, size_t size, void (*entry)(void *), void *arg)
{
    uintptr_t top = ((uintptr_t)base + size) & ~(uintptr_t)15;
#if defined(__x86_64__)
    /* Pops r15 r14 r13 r12 rbx rbp, then ret; after ret rsp == top - 16,
     * 16-byte aligned as the trampoline's call requires. */
    uint64_t *sp = (uint64_t *)(top - 72);
    memset(sp, 0, 72);
    sp[2] = (uint64_t)(uintptr_t)arg;   /* r13 */
    sp[3] = (uint64_t)(uintptr_t)entry; /* r12 */
    sp[6] = (uint64_t)(uintptr_t)cio__ctx_trampoline;
#elif defined(__aarch64__)
    /* The 160-byte save area: x19 = entry, x20 = arg, x29 = 0, x30 = lr. */
    uint64_t *sp = (uint64_t *)(top - 160);
    memset(sp, 0, 160);
    sp[0] = (uint64_t)(uintptr_t)entry;
    sp[1] = (uint64_t)(uintptr_t)arg;
    sp[11] = (uint64_t)(uintptr_t)cio__ctx_trampoline;
#else
#error "no assembly context switch for this architecture: build with CIO_CONTEXT=ucontext"
#endif
    ctx->sp = sp;
}

#endif
