/* Context switch for x86-64, System V ABI.
 *
 * A suspended context is its stack pointer; the stack holds the
 * callee-saved registers rbp, rbx, r12-r15 and the return address. */

    .text

/* void cio__ctx_switch(cio__ctx *from, cio__ctx *to) */
    .globl cio__ctx_switch
    .hidden cio__ctx_switch
    .type cio__ctx_switch, @function
    .p2align 4
cio__ctx_switch:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq (%rsi), %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size cio__ctx_switch, .-cio__ctx_switch

/* First code a new context runs: r12 = entry, r13 = arg (set up by
 * cio__ctx_make); the stack pointer is 16-byte aligned here. */
    .globl cio__ctx_trampoline
    .hidden cio__ctx_trampoline
    .type cio__ctx_trampoline, @function
    .p2align 4
cio__ctx_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    movq %r13, %rdi
    callq *%r12
    ud2
    .cfi_endproc
    .size cio__ctx_trampoline, .-cio__ctx_trampoline

    .section .note.GNU-stack,"",@progbits
