/* Context switching between task stacks.
 *
 * cio__ctx_switch saves the callee-saved registers and the stack pointer
 * of the running context into *from and resumes *to.  The floating-point
 * control state is shared by all tasks of a thread (it is not switched).
 * The implementation is src/arch/x86_64.S, src/arch/aarch64.S or, when
 * built with CIO_CONTEXT=ucontext, src/arch/ucontext.c. */
#ifndef CIO_ARCH_H
#define CIO_ARCH_H

#include <stddef.h>

#if defined(CIO_CONTEXT_UCONTEXT)
#include <ucontext.h>
typedef struct cio__ctx {
    ucontext_t uc;
} cio__ctx;
#else
typedef struct cio__ctx {
    void *sp;
} cio__ctx;
#endif

/* Prepare ctx so that switching to it runs entry(arg) on the stack
 * [base, base + size).  entry must never return. */
void cio__ctx_make(cio__ctx *ctx, void *base, size_t size, void (*entry)(void *), void *arg);
void cio__ctx_switch(cio__ctx *from, cio__ctx *to);

/* AddressSanitizer must be told when we move between stacks. */
#if defined(__SANITIZE_ADDRESS__)
#define CIO__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CIO__ASAN 1
#endif
#endif

#ifdef CIO__ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                     size_t *size_old);
static inline void cio__asan_before_switch(void **fake, const void *bottom, size_t size)
{
    __sanitizer_start_switch_fiber(fake, bottom, size);
}
static inline void cio__asan_after_switch(void *fake, const void **bottom, size_t *size)
{
    __sanitizer_finish_switch_fiber(fake, bottom, size);
}
#else
static inline void cio__asan_before_switch(void **fake, const void *bottom, size_t size)
{
    (void)fake, (void)bottom, (void)size;
}
static inline void cio__asan_after_switch(void *fake, const void **bottom, size_t *size)
{
    (void)fake, (void)bottom, (void)size;
}
#endif

#endif
