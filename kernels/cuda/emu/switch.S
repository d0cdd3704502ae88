/* switch.S - the emulator's context switch on x86-64 (emu.cpp uses
 * <ucontext.h> elsewhere). A separate assembler file, not inline asm, so that
 * the object carries no CET shadow-stack marking: these switches return into
 * other stacks, which a shadow stack would reject. */
#if defined(__x86_64__) && defined(__ELF__)
        .text

/* void qlm_emu_swap(void **save_sp, void *load_sp)
 * Pushes the callee-saved registers (the System V ABI's rbx, rbp, r12-r15)
 * on the current stack, stores the stack pointer in *save_sp, loads load_sp
 * and pops the other context's registers; `ret` resumes it. MXCSR and the x87
 * control word are left alone: every emulated thread shares one FP setting. */
        .globl  qlm_emu_swap
        .hidden qlm_emu_swap
        .type   qlm_emu_swap, @function
        .p2align 4
qlm_emu_swap:
        .cfi_startproc
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        movq    %rsp, (%rdi)
        movq    %rsi, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .cfi_endproc
        .size   qlm_emu_swap, .-qlm_emu_swap

/* A new coroutine's first `ret` lands here with r12 = its argument and
 * r13 = its function (emu.cpp's fiber_init lays out that first frame, with
 * rsp 16-byte aligned here). The function never returns: a finished thread
 * switches away for good. */
        .globl  qlm_emu_start
        .hidden qlm_emu_start
        .type   qlm_emu_start, @function
        .p2align 4
qlm_emu_start:
        .cfi_startproc
        .cfi_undefined rip      /* the bottom of this stack, for debuggers and unwinders */
        movq    %r12, %rdi
        callq   *%r13
        ud2
        .cfi_endproc
        .size   qlm_emu_start, .-qlm_emu_start
#endif

#if defined(__ELF__)
        .section .note.GNU-stack,"",%progbits
#endif
