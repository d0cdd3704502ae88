// emu.cpp - the CUDA emulator's scheduler and runtime (see README.md).
//
// A launch runs its blocks one after another on the calling OS thread. Each
// block's threads are coroutines with their own stacks; one runs until it
// reaches a sync point or returns, then the next ready one runs. A sync
// point completes when its last participant arrives (or when a thread that
// it was waiting for returns); that thread carries on and the others are
// queued. A thread that blocks while nothing is ready means the block can
// never finish: a kernel bug, reported and aborted on.
//
// Not thread safe by design, but every entry point takes one global lock,
// so OS threads that share the emulator take turns.
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include <stdarg.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cuda_runtime.h"

#if defined(__SANITIZE_ADDRESS__)
#define QLM_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QLM_EMU_ASAN 1
#endif
#endif
#if defined(QLM_EMU_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

// The hand-written switch (switch.S) on x86-64, <ucontext.h> elsewhere.
#if defined(__x86_64__) && defined(__ELF__) && !defined(QLM_EMU_UCONTEXT)
#define QLM_EMU_ASM_SWITCH 1
extern "C" __attribute__((visibility("hidden"))) void qlm_emu_swap(void **save_sp, void *load_sp);
extern "C" __attribute__((visibility("hidden"))) void qlm_emu_start(void);
#else
#include <ucontext.h>
#endif

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------
enum { MAX_THREADS = 1024, MAX_SHMEM = 227 * 1024, DEFAULT_SHMEM = 48 * 1024 };
enum { T_READY, T_BAR, T_WARP, T_DONE }; // emulated thread states

struct emu_fiber {
    void *sp;     // saved stack pointer (assembler switch)
    char *stack;  // lowest usable byte; NULL for the scheduler (the OS thread's own stack)
    size_t size;
#if !defined(QLM_EMU_ASM_SWITCH)
    ucontext_t uc;
#endif
#if defined(QLM_EMU_ASAN)
    void *fake;          // ASan's fake stack while switched out
    const void *asan_lo; // the stack ASan is told about
    size_t asan_size;
#endif
};

struct emu_thread {
    qlm_emu_ctx pub; // what threadIdx and the shuffles read
    int state;
    int kind;        // warp sync point (QLM_EMU_SHFL...) while T_WARP
    unsigned mask;   // its mask
    unsigned src;    // a shuffle's source lane
    uint64_t val;    // the value offered at a sync point
    uint64_t result; // what the sync point hands back
    emu_fiber f;
};

qlm_emu_ctx *qlm_emu_cur_;
uint3 qlm_emu_block_idx_;
dim3 qlm_emu_block_dim_, qlm_emu_grid_dim_;

static emu_thread *g_threads; // MAX_THREADS records with their stacks, made once
static emu_fiber g_sched;     // the launching OS thread's context
static emu_thread *g_cur;     // the running emulated thread; NULL outside kernels
static emu_fiber *g_switch_from;
static unsigned long long g_switches;

// the block being run
static unsigned g_nthreads, g_live, g_bar_waiting;
static unsigned g_warp_live[MAX_THREADS / 32], g_warp_waiting[MAX_THREADS / 32];
static unsigned g_queue[MAX_THREADS], g_qhead, g_qcount; // ready threads, FIFO
static const std::function<void()> *g_body;
static void *g_dyn;

static std::recursive_mutex &lock_() {
    static std::recursive_mutex m;
    return m;
}
#define LOCK std::lock_guard<std::recursive_mutex> guard_(lock_())

// ---------------------------------------------------------------------------
// Kernel bugs: report where and abort, so that tests see them.
// ---------------------------------------------------------------------------
__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("qlm emu: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (g_cur)
        fprintf(stderr, " (block (%u,%u,%u), thread (%u,%u,%u))", qlm_emu_block_idx_.x, qlm_emu_block_idx_.y,
                qlm_emu_block_idx_.z, g_cur->pub.tid.x, g_cur->pub.tid.y, g_cur->pub.tid.z);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}

static emu_thread *cur_or_die(const char *what) {
    if (!g_cur) die("%s called outside a kernel", what);
    return g_cur;
}

static const char *kind_name(int kind) {
    return kind == QLM_EMU_SYNCWARP ? "__syncwarp" : kind == QLM_EMU_SHFL ? "a __shfl*_sync" : "a vote (__ballot/__any/__all_sync)";
}

// ---------------------------------------------------------------------------
// Coroutines
// ---------------------------------------------------------------------------
static size_t env_size(const char *name, size_t dflt) {
    const char *s = getenv(name);
    if (!s || !*s) return dflt;
    char *end;
    const unsigned long long v = strtoull(s, &end, 10);
    return *end || v == 0 ? dflt : (size_t)v;
}

static void read_sched_env();

// One mapping for all stacks, each above a PROT_NONE guard page, so that an
// overflow faults instead of corrupting the neighbour. Pages are touched only
// as stacks grow.
static void ensure_pool() {
    if (g_threads) return;
#if defined(QLM_EMU_ASAN)
    const size_t dflt_kb = 256; // ASan's frames are much larger
#else
    const size_t dflt_kb = 64;
#endif
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t stack = (env_size("QLM_EMU_STACK_KB", dflt_kb) * 1024 + page - 1) / page * page;
    const size_t stride = stack + page;
    char *pool = (char *)mmap(nullptr, stride * MAX_THREADS, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (pool == MAP_FAILED) die("cannot map %zu bytes of coroutine stacks", stride * MAX_THREADS);
    read_sched_env();
    g_threads = new emu_thread[MAX_THREADS]();
    for (unsigned i = 0; i < MAX_THREADS; i++) {
        if (mprotect(pool + i * stride, page, PROT_NONE) != 0) die("cannot protect a stack guard page");
        g_threads[i].f.stack = pool + i * stride + page;
        g_threads[i].f.size = stack;
    }
}

static void thread_entry(emu_thread *t);

#if !defined(QLM_EMU_ASM_SWITCH)
static void thread_entry_uc() { thread_entry(g_cur); }
#endif

// Lays out a fresh context that starts thread_entry(t) on t's stack.
static void fiber_init(emu_thread *t) {
#if defined(QLM_EMU_ASAN)
    __asan_unpoison_memory_region(t->f.stack, t->f.size); // a reused stack keeps its last frames' poison
    t->f.asan_lo = t->f.stack;
    t->f.asan_size = t->f.size;
    t->f.fake = nullptr;
#endif
#if defined(QLM_EMU_ASM_SWITCH)
    // qlm_emu_swap pops r15 r14 r13 r12 rbx rbp, then returns into
    // qlm_emu_start, which calls r13(r12) with rsp 16-byte aligned.
    const uintptr_t top = ((uintptr_t)t->f.stack + t->f.size) & ~(uintptr_t)15;
    void **sp = (void **)(top - 72);
    sp[0] = nullptr;                                     // r15
    sp[1] = nullptr;                                     // r14
    sp[2] = reinterpret_cast<void *>(&thread_entry);     // r13
    sp[3] = t;                                           // r12
    sp[4] = nullptr;                                     // rbx
    sp[5] = nullptr;                                     // rbp: ends frame-pointer chains
    sp[6] = reinterpret_cast<void *>(&qlm_emu_start);    // return address
    t->f.sp = sp;
#else
    if (getcontext(&t->f.uc) != 0) die("getcontext failed");
    t->f.uc.uc_stack.ss_sp = t->f.stack;
    t->f.uc.uc_stack.ss_size = t->f.size;
    t->f.uc.uc_link = nullptr;
    makecontext(&t->f.uc, thread_entry_uc, 0);
#endif
}

#if defined(QLM_EMU_ASAN)
// On arriving in a context: tell ASan, and learn the scheduler's stack the
// first time a thread is entered from it.
static void asan_arrived(void *fake) {
    const void *lo;
    size_t size;
    __sanitizer_finish_switch_fiber(fake, &lo, &size);
    if (g_switch_from == &g_sched) {
        g_sched.asan_lo = lo;
        g_sched.asan_size = size;
    }
}
#endif

// Leaves `from` (NULL: the scheduler) for `to` (NULL: the scheduler). A
// thread that has returned passes dies, and is never resumed.
static void switch_thread(emu_thread *from, emu_thread *to, bool dies) {
    emu_fiber *ff = from ? &from->f : &g_sched, *tf = to ? &to->f : &g_sched;
    g_cur = to;
    qlm_emu_cur_ = to ? &to->pub : nullptr;
    g_switch_from = ff;
    g_switches++;
#if defined(QLM_EMU_ASAN)
    __sanitizer_start_switch_fiber(dies ? nullptr : &ff->fake, tf->asan_lo, tf->asan_size);
#else
    (void)dies;
#endif
#if defined(QLM_EMU_ASM_SWITCH)
    qlm_emu_swap(&ff->sp, tf->sp);
#else
    if (swapcontext(&ff->uc, &tf->uc) != 0) die("swapcontext failed");
#endif
#if defined(QLM_EMU_ASAN)
    asan_arrived(ff->fake);
#endif
}

// ---------------------------------------------------------------------------
// The ready queue and blocking
// ---------------------------------------------------------------------------
static void push_ready(emu_thread *t) { g_queue[(g_qhead + g_qcount++) % MAX_THREADS] = (unsigned)(t - g_threads); }

// QLM_EMU_SCHED picks which ready thread runs next: fifo (the default),
// lifo, or random[:seed]. A kernel whose result changes with the order has
// a race between sync points (a missing __syncthreads or __syncwarp).
enum { ORDER_FIFO, ORDER_LIFO, ORDER_RANDOM };
static int g_order;
static uint64_t g_rng;

static void read_sched_env() {
    const char *s = getenv("QLM_EMU_SCHED");
    if (!s || !*s || strcmp(s, "fifo") == 0) return;
    if (strcmp(s, "lifo") == 0) {
        g_order = ORDER_LIFO;
    } else if (strncmp(s, "random", 6) == 0 && (s[6] == 0 || s[6] == ':')) {
        g_order = ORDER_RANDOM;
        g_rng = s[6] ? strtoull(s + 7, nullptr, 10) : 1;
        g_rng = g_rng * 0x9e3779b97f4a7c15ull + 1; // never 0
    } else {
        die("QLM_EMU_SCHED=%s: want fifo, lifo or random[:seed]", s);
    }
}

static emu_thread *pop_ready() {
    if (!g_qcount) return nullptr;
    if (g_order == ORDER_LIFO) return &g_threads[g_queue[(g_qhead + --g_qcount) % MAX_THREADS]];
    unsigned at = g_qhead; // FIFO
    if (g_order == ORDER_RANDOM) {
        g_rng ^= g_rng << 13, g_rng ^= g_rng >> 7, g_rng ^= g_rng << 17; // xorshift64
        at = (g_qhead + (unsigned)(g_rng % g_qcount)) % MAX_THREADS;
    }
    // take entry `at`: the head's entry fills its place
    const unsigned idx = g_queue[at];
    g_queue[at] = g_queue[g_qhead];
    g_qhead = (g_qhead + 1) % MAX_THREADS;
    g_qcount--;
    return &g_threads[idx];
}

static void describe(const emu_thread *t, char *buf, size_t n) {
    switch (t->state) {
    case T_READY: snprintf(buf, n, "ready"); break;
    case T_BAR: snprintf(buf, n, "waiting at __syncthreads"); break;
    case T_WARP: snprintf(buf, n, "waiting at %s (mask 0x%08x)", kind_name(t->kind), t->mask); break;
    default: snprintf(buf, n, "returned"); break;
    }
}

// Every thread that has not returned waits at a sync point that cannot
// complete: print who waits where (runs of equal states collapsed), abort.
__attribute__((noreturn)) static void deadlock() {
    fprintf(stderr, "qlm emu: deadlock in block (%u,%u,%u): no thread can go on; they wait at sync points that "
            "cannot complete (mismatched __syncthreads/__syncwarp/shuffles, or one inside a branch not all "
            "threads take)\n", qlm_emu_block_idx_.x, qlm_emu_block_idx_.y, qlm_emu_block_idx_.z);
    for (unsigned i = 0; i < g_nthreads;) {
        char what[128], next[128];
        describe(&g_threads[i], what, sizeof what);
        unsigned j = i + 1;
        for (; j < g_nthreads; j++) {
            describe(&g_threads[j], next, sizeof next);
            if (strcmp(what, next) != 0) break;
        }
        const uint3 a = g_threads[i].pub.tid, b = g_threads[j - 1].pub.tid;
        char warps[32];
        if (i / 32 == (j - 1) / 32) snprintf(warps, sizeof warps, "warp %u", i / 32);
        else snprintf(warps, sizeof warps, "warps %u-%u", i / 32, (j - 1) / 32);
        fprintf(stderr, "  threads %u-%u (threadIdx (%u,%u,%u)-(%u,%u,%u), %s): %s\n", i, j - 1, a.x, a.y, a.z, b.x,
                b.y, b.z, warps, what);
        i = j;
    }
    fflush(stderr);
    abort();
}

// The running thread has just started waiting: run the next ready one.
static void block_current() {
    emu_thread *me = g_cur, *next = pop_ready();
    if (!next) deadlock();
    switch_thread(me, next, false);
}

// ---------------------------------------------------------------------------
// __syncthreads: all threads that have not returned
// ---------------------------------------------------------------------------
static void block_release() {
    unsigned count = 0;
    for (unsigned i = 0; i < g_nthreads; i++)
        if (g_threads[i].state == T_BAR) count += (unsigned)g_threads[i].val;
    const uint64_t result = count | (uint64_t)g_bar_waiting << 32;
    for (unsigned i = 0; i < g_nthreads; i++) {
        emu_thread *t = &g_threads[i];
        if (t->state != T_BAR) continue;
        t->state = T_READY;
        t->result = result;
        if (t != g_cur) push_ready(t);
    }
    g_bar_waiting = 0;
}

int qlm_emu_block_sync(int op, int pred) {
    emu_thread *me = cur_or_die("__syncthreads");
    me->state = T_BAR;
    me->val = pred != 0;
    if (++g_bar_waiting == g_live) block_release();
    else block_current();
    const unsigned count = (unsigned)me->result, total = (unsigned)(me->result >> 32);
    switch (op) {
    case QLM_EMU_BAR_COUNT: return (int)count;
    case QLM_EMU_BAR_AND: return count == total;
    case QLM_EMU_BAR_OR: return count != 0;
    default: return 0;
    }
}

// ---------------------------------------------------------------------------
// Warp sync points: the live lanes of the mask
// ---------------------------------------------------------------------------
// Completes the warp sync point of `mask` if all its live lanes wait there:
// hands each its result and readies all but the running thread.
static bool warp_try_complete(unsigned w, unsigned mask) {
    const unsigned group = mask & g_warp_live[w];
    if (!group || (g_warp_waiting[w] & group) != group) return false;
    emu_thread *lanes = &g_threads[w * 32];
    const int first = __builtin_ctz(group);
    for (unsigned g = group; g; g &= g - 1)
        if (lanes[__builtin_ctz(g)].mask != mask) return false; // a lane waits in another group first
    for (unsigned g = group; g; g &= g - 1) {
        const emu_thread *t = &lanes[__builtin_ctz(g)];
        if (t->kind != lanes[first].kind) {
            g_cur = (emu_thread *)t;
            die("warp %u: lane %d waits at %s but lane %d at %s (same mask 0x%08x)", w, __builtin_ctz(g),
                kind_name(t->kind), first, kind_name(lanes[first].kind), mask);
        }
    }
    if (lanes[first].kind == QLM_EMU_SHFL) {
        for (unsigned g = group; g; g &= g - 1) {
            emu_thread *t = &lanes[__builtin_ctz(g)];
            const unsigned src = t->src;
            if (!(g_warp_live[w] >> src & 1u)) {
                g_cur = t;
                die("shfl from exited lane: lane %u of warp %u reads lane %u, which has returned or does not exist "
                    "(blockDim not a multiple of 32?)", (unsigned)__builtin_ctz(g), w, src);
            }
            if (!(group >> src & 1u)) {
                g_cur = t;
                die("lane %u of warp %u shuffles from lane %u, outside the mask 0x%08x", (unsigned)__builtin_ctz(g),
                    w, src, mask);
            }
            t->result = lanes[src].val;
        }
    } else if (lanes[first].kind == QLM_EMU_VOTE) {
        uint64_t ballot = 0;
        for (unsigned g = group; g; g &= g - 1)
            if (lanes[__builtin_ctz(g)].val) ballot |= 1u << __builtin_ctz(g);
        for (unsigned g = group; g; g &= g - 1) lanes[__builtin_ctz(g)].result = ballot | (uint64_t)group << 32;
    }
    g_warp_waiting[w] &= ~group;
    for (unsigned g = group; g; g &= g - 1) {
        emu_thread *t = &lanes[__builtin_ctz(g)];
        t->state = T_READY;
        if (t != g_cur) push_ready(t);
    }
    return true;
}

uint64_t qlm_emu_warp_op(int kind, unsigned mask, uint64_t val, unsigned src) {
    emu_thread *me = cur_or_die(kind_name(kind));
    const unsigned lane = me->pub.lane, w = me->pub.warp;
    if (!(mask >> lane & 1u)) die("%s with mask 0x%08x, which leaves out the calling lane %u", kind_name(kind), mask, lane);
    me->state = T_WARP;
    me->kind = kind;
    me->mask = mask;
    me->val = val;
    me->src = src;
    g_warp_waiting[w] |= 1u << lane;
    if (!warp_try_complete(w, mask)) block_current();
    return me->result;
}

unsigned qlm_emu_width(int width) {
    if (width < 1 || width > 32 || (width & (width - 1))) die("shuffle width %d is not a power of two in 1..32", width);
    return (unsigned)width;
}

unsigned qlm_emu_activemask(void) { return g_warp_live[cur_or_die("__activemask")->pub.warp]; }

// ---------------------------------------------------------------------------
// Threads and blocks
// ---------------------------------------------------------------------------
// A returned thread no longer counts at barriers: that may complete some.
__attribute__((noreturn)) static void thread_exit() {
    emu_thread *me = g_cur;
    const unsigned w = me->pub.warp;
    me->state = T_DONE;
    g_live--;
    g_warp_live[w] &= ~(1u << me->pub.lane);
    if (g_bar_waiting && g_bar_waiting == g_live) block_release();
    for (bool again = true; again;) {
        again = false;
        for (unsigned g = g_warp_waiting[w]; g; g &= g - 1)
            if (warp_try_complete(w, g_threads[w * 32 + __builtin_ctz(g)].mask)) {
                again = true;
                break;
            }
    }
    emu_thread *next = pop_ready();
    if (next) switch_thread(me, next, true);
    else if (g_live == 0) switch_thread(me, nullptr, true);
    else deadlock();
    abort(); // never resumed
}

static void thread_entry(emu_thread *t) {
#if defined(QLM_EMU_ASAN)
    asan_arrived(nullptr);
#endif
    (void)t;
    (*g_body)();
    thread_exit();
}

static void run_block() {
    const unsigned n = g_nthreads, bx = qlm_emu_block_dim_.x, by = qlm_emu_block_dim_.y;
    memset(g_warp_live, 0, sizeof g_warp_live);
    memset(g_warp_waiting, 0, sizeof g_warp_waiting);
    g_qhead = g_qcount = 0;
    for (unsigned i = 0; i < n; i++) {
        emu_thread *t = &g_threads[i];
        t->pub.tid = uint3{i % bx, i / bx % by, i / (bx * by)};
        t->pub.lane = i % 32;
        t->pub.warp = i / 32;
        t->state = T_READY;
        t->result = 0;
        fiber_init(t);
        push_ready(t);
        g_warp_live[i / 32] |= 1u << (i % 32);
    }
    g_live = n;
    g_bar_waiting = 0;
    switch_thread(nullptr, pop_ready(), false); // back when the last thread has returned
}

struct emu_launch {
    dim3 grid, block;
    size_t shmem;
    std::function<void()> body;
};

static void run_launch(const emu_launch &L) {
    if (g_cur) die("a kernel launched a kernel (dynamic parallelism is not emulated)");
    ensure_pool();
    qlm_emu_grid_dim_ = L.grid;
    qlm_emu_block_dim_ = L.block;
    g_nthreads = L.block.x * L.block.y * L.block.z;
    g_body = &L.body;
    // exactly the bytes asked for (at least 16), so that ASan builds catch overruns
    const size_t dyn_size = L.shmem > 16 ? L.shmem : 16;
    void *dyn = nullptr;
    if (posix_memalign(&dyn, 64, dyn_size) != 0) die("out of memory for %zu bytes of dynamic shared memory", dyn_size);
    g_dyn = dyn;
    for (unsigned z = 0; z < L.grid.z; z++)
        for (unsigned y = 0; y < L.grid.y; y++)
            for (unsigned x = 0; x < L.grid.x; x++) {
                qlm_emu_block_idx_ = uint3{x, y, z};
                memset(dyn, 0, dyn_size);
                run_block();
            }
    free(dyn);
    g_dyn = nullptr;
    g_body = nullptr;
}

void *qlm_emu_dynamic_shared(void) {
    cur_or_die("QLM_DYN_SHARED");
    return g_dyn;
}

unsigned long long qlm_emu_switches(void) { return g_switches; }

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------
static cudaError_t g_last_error = cudaSuccess;

static cudaError_t fail(cudaError_t e) {
    g_last_error = e;
    return e;
}

__attribute__((format(printf, 1, 2))) static void warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("qlm emu: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

cudaError_t cudaGetLastError(void) {
    LOCK;
    const cudaError_t e = g_last_error;
    g_last_error = cudaSuccess;
    return e;
}

cudaError_t cudaPeekAtLastError(void) {
    LOCK;
    return g_last_error;
}

const char *cudaGetErrorName(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorInvalidDeviceFunction: return "cudaErrorInvalidDeviceFunction";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorIllegalState: return "cudaErrorIllegalState";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorNotSupported: return "cudaErrorNotSupported";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorStreamCaptureImplicit: return "cudaErrorStreamCaptureImplicit";
    }
    return "cudaErrorUnknown";
}

const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorInvalidDeviceFunction: return "invalid device function";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorIllegalState: return "the operation cannot be performed in the present state";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorNotSupported: return "operation not supported";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
    case cudaErrorStreamCaptureImplicit:
        return "operation would make the legacy stream depend on a capturing blocking stream";
    }
    return "unrecognized error code";
}

// ---------------------------------------------------------------------------
// Device
// ---------------------------------------------------------------------------
static size_t total_mem() { return env_size("QLM_EMU_MEM_MB", 8192) << 20; }

// QLM_EMU_DEVICES=0 makes the emulator report no device (to test the CPU fallback).
cudaError_t cudaGetDeviceCount(int *count) {
    LOCK;
    if (!count) return fail(cudaErrorInvalidValue);
    const char *s = getenv("QLM_EMU_DEVICES");
    *count = s && strcmp(s, "0") == 0 ? 0 : 1;
    return *count ? cudaSuccess : fail(cudaErrorNoDevice);
}

cudaError_t cudaSetDevice(int device) {
    LOCK;
    return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice);
}

cudaError_t cudaGetDevice(int *device) {
    LOCK;
    if (!device) return fail(cudaErrorInvalidValue);
    *device = 0;
    return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int device) {
    LOCK;
    if (!p) return fail(cudaErrorInvalidValue);
    if (device != 0) return fail(cudaErrorInvalidDevice);
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "qlm CUDA emulator (CPU)");
    p->totalGlobalMem = total_mem();
    p->sharedMemPerBlock = DEFAULT_SHMEM;
    p->sharedMemPerBlockOptin = MAX_SHMEM;
    p->sharedMemPerMultiprocessor = 228 * 1024;
    p->totalConstMem = 64 * 1024;
    p->regsPerBlock = 65536;
    p->warpSize = 32;
    p->maxThreadsPerBlock = MAX_THREADS;
    p->maxThreadsDim[0] = p->maxThreadsDim[1] = 1024;
    p->maxThreadsDim[2] = 64;
    p->maxGridSize[0] = 2147483647;
    p->maxGridSize[1] = p->maxGridSize[2] = 65535;
    p->maxThreadsPerMultiProcessor = 2048;
    p->major = 9;
    p->minor = 0;
    p->multiProcessorCount = 2;
    p->l2CacheSize = 4 << 20;
    p->memoryBusWidth = 256;
    p->concurrentKernels = 1;
    p->unifiedAddressing = 1;
    return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device) {
    LOCK;
    if (!value) return fail(cudaErrorInvalidValue);
    if (device != 0) return fail(cudaErrorInvalidDevice);
    switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = MAX_THREADS; break;
    case cudaDevAttrMaxBlockDimX: *value = 1024; break;
    case cudaDevAttrMaxGridDimX: *value = 2147483647; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = DEFAULT_SHMEM; break;
    case cudaDevAttrWarpSize: *value = 32; break;
    case cudaDevAttrClockRate: *value = 1000000; break;
    case cudaDevAttrMultiProcessorCount: *value = 2; break;
    case cudaDevAttrMemoryClockRate: *value = 1000000; break;
    case cudaDevAttrGlobalMemoryBusWidth: *value = 256; break;
    case cudaDevAttrL2CacheSize: *value = 4 << 20; break;
    case cudaDevAttrComputeCapabilityMajor: *value = 9; break;
    case cudaDevAttrComputeCapabilityMinor: *value = 0; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = MAX_SHMEM; break;
    default: return fail(cudaErrorInvalidValue);
    }
    return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int *v) {
    LOCK;
    if (!v) return fail(cudaErrorInvalidValue);
    *v = 13000;
    return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int *v) { return cudaDriverGetVersion(v); }

cudaError_t cudaDeviceReset(void) { return cudaSuccess; }

cudaError_t qlm_emu_func_set_attribute(const void *func, cudaFuncAttribute attr, int value) {
    LOCK;
    if (!func) return fail(cudaErrorInvalidDeviceFunction);
    if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize && value >= 0 && value <= MAX_SHMEM) return cudaSuccess;
    if (attr == cudaFuncAttributePreferredSharedMemoryCarveout && value >= -1 && value <= 100) return cudaSuccess;
    return fail(cudaErrorInvalidValue);
}

// ---------------------------------------------------------------------------
// Streams and capture
// ---------------------------------------------------------------------------
struct qlm_emu_stream {
    unsigned flags;
    bool capturing, invalid;
    cudaStreamCaptureMode mode;
    std::vector<std::function<void()>> nodes;
};
struct qlm_emu_graph {
    std::vector<std::function<void()>> nodes;
};
struct qlm_emu_graph_exec {
    std::shared_ptr<const std::vector<std::function<void()>>> nodes;
};
struct qlm_emu_event {
    unsigned flags;
    bool recorded;
    double ms;
};

static std::set<qlm_emu_stream *> g_streams;
static std::set<qlm_emu_event *> g_events;
static std::set<qlm_emu_graph *> g_graphs;
static std::set<qlm_emu_graph_exec *> g_execs;

static bool is_default_stream(cudaStream_t s) { return !s || s == cudaStreamLegacy || s == cudaStreamPerThread; }

// *out = the stream's record (NULL for the default streams)
static cudaError_t find_stream(cudaStream_t s, qlm_emu_stream **out) {
    *out = nullptr;
    if (is_default_stream(s)) return cudaSuccess;
    if (!g_streams.count(s)) return cudaErrorInvalidResourceHandle;
    *out = s;
    return cudaSuccess;
}

static bool any_capture() {
    for (qlm_emu_stream *s : g_streams)
        if (s->capturing) return true;
    return false;
}

// A host-synchronizing or otherwise unsafe call during capture: real CUDA
// fails it and invalidates the captures it would break (all but the relaxed
// ones), so that cudaStreamEndCapture reports it too.
static cudaError_t refuse_during_capture() {
    for (qlm_emu_stream *s : g_streams)
        if (s->capturing && s->mode != cudaStreamCaptureModeRelaxed) s->invalid = true;
    return fail(cudaErrorStreamCaptureUnsupported);
}

static bool strict_capture() {
    for (qlm_emu_stream *s : g_streams)
        if (s->capturing && s->mode != cudaStreamCaptureModeRelaxed) return true;
    return false;
}

cudaError_t qlm_emu_submit(cudaStream_t stream, std::function<void()> op) {
    LOCK;
    qlm_emu_stream *st;
    if (find_stream(stream, &st) != cudaSuccess) return fail(cudaErrorInvalidResourceHandle);
    if (st && st->capturing) {
        if (st->invalid) return fail(cudaErrorStreamCaptureInvalidated);
        st->nodes.push_back(std::move(op));
        return cudaSuccess;
    }
    if (!st && stream != cudaStreamPerThread) {
        // The legacy stream waits for every blocking stream: work on it
        // while one of those is being captured breaks the capture.
        bool implicit = false;
        for (qlm_emu_stream *s : g_streams)
            if (s->capturing && !(s->flags & cudaStreamNonBlocking)) implicit = s->invalid = true;
        if (implicit) return fail(cudaErrorStreamCaptureImplicit);
    }
    op();
    return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags) {
    LOCK;
    if (!s || flags > cudaStreamNonBlocking) return fail(cudaErrorInvalidValue);
    *s = new qlm_emu_stream();
    (*s)->flags = flags;
    g_streams.insert(*s);
    return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t *s) { return cudaStreamCreateWithFlags(s, cudaStreamDefault); }

cudaError_t cudaStreamDestroy(cudaStream_t s) {
    LOCK;
    if (is_default_stream(s) || !g_streams.erase(s)) return fail(cudaErrorInvalidResourceHandle);
    delete s;
    return cudaSuccess;
}

// Work runs when submitted, so waiting is only about capture rules.
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
    LOCK;
    qlm_emu_stream *st;
    if (find_stream(s, &st) != cudaSuccess) return fail(cudaErrorInvalidResourceHandle);
    if (st && st->capturing) {
        st->invalid = true;
        return fail(cudaErrorStreamCaptureUnsupported);
    }
    if (!st && s != cudaStreamPerThread) return qlm_emu_submit(s, [] {});
    return cudaSuccess;
}

cudaError_t cudaStreamQuery(cudaStream_t s) { return cudaStreamSynchronize(s); }

cudaError_t cudaDeviceSynchronize(void) {
    LOCK;
    return any_capture() ? refuse_during_capture() : cudaSuccess;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags) {
    LOCK;
    qlm_emu_stream *st;
    if (find_stream(s, &st) != cudaSuccess || !g_events.count(e)) return fail(cudaErrorInvalidResourceHandle);
    (void)flags;
    return cudaSuccess;
}

cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode) {
    LOCK;
    qlm_emu_stream *st;
    if (find_stream(s, &st) != cudaSuccess) return fail(cudaErrorInvalidResourceHandle);
    if (!st) return fail(cudaErrorStreamCaptureUnsupported); // as real CUDA: not the legacy/default stream
    if (mode > cudaStreamCaptureModeRelaxed) return fail(cudaErrorInvalidValue);
    if (st->capturing) return fail(cudaErrorIllegalState);
    st->capturing = true;
    st->invalid = false;
    st->mode = mode;
    st->nodes.clear();
    return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t *graph) {
    LOCK;
    qlm_emu_stream *st;
    if (!graph) return fail(cudaErrorInvalidValue);
    if (find_stream(s, &st) != cudaSuccess) return fail(cudaErrorInvalidResourceHandle);
    if (!st || !st->capturing) return fail(cudaErrorIllegalState);
    st->capturing = false;
    *graph = nullptr;
    if (st->invalid) {
        st->nodes.clear();
        return fail(cudaErrorStreamCaptureInvalidated);
    }
    qlm_emu_graph *g = new qlm_emu_graph();
    g->nodes.swap(st->nodes);
    g_graphs.insert(g);
    *graph = g;
    return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus *status) {
    LOCK;
    qlm_emu_stream *st;
    if (!status) return fail(cudaErrorInvalidValue);
    if (find_stream(s, &st) != cudaSuccess) return fail(cudaErrorInvalidResourceHandle);
    *status = !st || !st->capturing ? cudaStreamCaptureStatusNone
              : st->invalid         ? cudaStreamCaptureStatusInvalidated
                                    : cudaStreamCaptureStatusActive;
    return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long flags) {
    LOCK;
    (void)flags;
    if (!exec || !g_graphs.count(graph)) return fail(cudaErrorInvalidValue);
    qlm_emu_graph_exec *x = new qlm_emu_graph_exec();
    x->nodes = std::make_shared<const std::vector<std::function<void()>>>(graph->nodes);
    g_execs.insert(x);
    *exec = x;
    return cudaSuccess;
}

// Replays the nodes in capture order (recorded as one node when the stream
// is itself being captured, as a child graph would be).
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s) {
    LOCK;
    if (!g_execs.count(exec)) return fail(cudaErrorInvalidResourceHandle);
    std::shared_ptr<const std::vector<std::function<void()>>> nodes = exec->nodes;
    return qlm_emu_submit(s, [nodes] {
        for (const std::function<void()> &node : *nodes) node();
    });
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
    LOCK;
    if (!g_execs.erase(exec)) return fail(cudaErrorInvalidResourceHandle);
    delete exec;
    return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
    LOCK;
    if (!g_graphs.erase(graph)) return fail(cudaErrorInvalidResourceHandle);
    delete graph;
    return cudaSuccess;
}

cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t *nodes, size_t *count) {
    LOCK;
    if (!count || nodes || !g_graphs.count(graph)) return fail(cudaErrorInvalidValue);
    *count = graph->nodes.size();
    return cudaSuccess;
}

// ---------------------------------------------------------------------------
// Launch
// ---------------------------------------------------------------------------
static cudaError_t check_config(dim3 g, dim3 b, size_t shmem) {
    if (!g.x || !g.y || !g.z || !b.x || !b.y || !b.z) return cudaErrorInvalidConfiguration;
    if (b.x > 1024 || b.y > 1024 || b.z > 64 || (uint64_t)b.x * b.y * b.z > MAX_THREADS)
        return cudaErrorInvalidConfiguration;
    if (g.x > 2147483647u || g.y > 65535 || g.z > 65535) return cudaErrorInvalidConfiguration;
    if (shmem > MAX_SHMEM) return cudaErrorInvalidConfiguration;
    return cudaSuccess;
}

void qlm_emu_launch(dim3 grid, dim3 block, size_t shmem, cudaStream_t stream, std::function<void()> body) {
    LOCK;
    const cudaError_t e = check_config(grid, block, shmem);
    if (e != cudaSuccess) {
        warn("launch of grid (%u,%u,%u) x block (%u,%u,%u) with %zu bytes of dynamic shared memory: %s", grid.x,
             grid.y, grid.z, block.x, block.y, block.z, shmem, cudaGetErrorString(e));
        fail(e);
        return;
    }
    emu_launch L{grid, block, shmem, std::move(body)};
    qlm_emu_submit(stream, [L] { run_launch(L); });
}

// ---------------------------------------------------------------------------
// Memory: device memory is host memory, every allocation on record so that
// copies and frees can be checked.
// ---------------------------------------------------------------------------
struct emu_alloc {
    size_t size;
    bool host; // cudaMallocHost/cudaHostAlloc
};
static std::map<uintptr_t, emu_alloc> g_allocs;
static size_t g_dev_used;

// The allocation that p points into (or at, for a 0-byte one).
static const emu_alloc *owner(const void *p, uintptr_t *base) {
    auto it = g_allocs.upper_bound((uintptr_t)p);
    if (it == g_allocs.begin()) return nullptr;
    --it;
    const uintptr_t off = (uintptr_t)p - it->first;
    if (off >= (it->second.size ? it->second.size : 1)) return nullptr;
    *base = it->first;
    return &it->second;
}

bool qlm_emu_is_device_range(const void *p, size_t n, bool host_ok) {
    LOCK;
    uintptr_t base;
    const emu_alloc *a = owner(p, &base);
    if (!a || (a->host && !host_ok)) return false;
    return n <= a->size - ((uintptr_t)p - base);
}

enum { SIDE_HOST, SIDE_DEVICE, SIDE_ANY };

// A device side must address n bytes of one device allocation; a host side
// must not point into device memory (a swapped direction or pointer).
static bool side_ok(const void *p, size_t n, int side) {
    uintptr_t base;
    const emu_alloc *a = owner(p, &base);
    const bool dev = a && !a->host;
    if (side == SIDE_HOST) return p && !dev;
    if (side == SIDE_DEVICE) return dev && n <= a->size - ((uintptr_t)p - base);
    return p && (!dev || n <= a->size - ((uintptr_t)p - base));
}

static cudaError_t check_copy(const char *what, void *dst, const void *src, size_t n, cudaMemcpyKind kind) {
    static const int sides[5][2] = {{SIDE_HOST, SIDE_HOST}, {SIDE_DEVICE, SIDE_HOST}, {SIDE_HOST, SIDE_DEVICE},
                                    {SIDE_DEVICE, SIDE_DEVICE}, {SIDE_ANY, SIDE_ANY}};
    static const char *names[5] = {"HostToHost", "HostToDevice", "DeviceToHost", "DeviceToDevice", "Default"};
    if ((unsigned)kind > cudaMemcpyDefault) return cudaErrorInvalidMemcpyDirection;
    if (n == 0) return cudaSuccess;
    if (!side_ok(dst, n, sides[kind][0]) || !side_ok(src, n, sides[kind][1])) {
        warn("%s(%p, %p, %zu, cudaMemcpy%s): a pointer is not where the direction says, or the %zu bytes "
             "overrun its cudaMalloc allocation", what, dst, src, n, names[kind], n);
        return cudaErrorInvalidValue;
    }
    return cudaSuccess;
}

static cudaError_t check_set(const char *what, void *p, size_t n) {
    if (n == 0 || side_ok(p, n, SIDE_DEVICE)) return cudaSuccess;
    warn("%s(%p, %zu): not %zu bytes inside one cudaMalloc allocation", what, p, n, n);
    return cudaErrorInvalidValue;
}

cudaError_t cudaMalloc(void **p, size_t n) {
    LOCK;
    if (!p) return fail(cudaErrorInvalidValue);
    if (strict_capture()) return refuse_during_capture();
    *p = nullptr;
    void *m = nullptr;
    if (n > total_mem() - g_dev_used || posix_memalign(&m, 256, n ? n : 1) != 0) return fail(cudaErrorMemoryAllocation);
    memset(m, 0xA5, n); // garbage, so that reads of unwritten memory show
    g_allocs[(uintptr_t)m] = emu_alloc{n, false};
    g_dev_used += n;
    *p = m;
    return cudaSuccess;
}

cudaError_t cudaFree(void *p) {
    LOCK;
    if (!p) return cudaSuccess;
    if (strict_capture()) return refuse_during_capture();
    auto it = g_allocs.find((uintptr_t)p);
    if (it == g_allocs.end() || it->second.host) {
        warn("cudaFree(%p): not a live cudaMalloc allocation", p);
        return fail(cudaErrorInvalidValue);
    }
    memset(p, 0xDD, it->second.size); // so that a use after free reads garbage
    g_dev_used -= it->second.size;
    g_allocs.erase(it);
    free(p);
    return cudaSuccess;
}

cudaError_t cudaHostAlloc(void **p, size_t n, unsigned flags) {
    LOCK;
    if (!p || flags > 7) return fail(cudaErrorInvalidValue);
    *p = nullptr;
    void *m = nullptr;
    if (posix_memalign(&m, 256, n ? n : 1) != 0) return fail(cudaErrorMemoryAllocation);
    memset(m, 0xA5, n);
    g_allocs[(uintptr_t)m] = emu_alloc{n, true};
    *p = m;
    return cudaSuccess;
}

cudaError_t cudaMallocHost(void **p, size_t n) { return cudaHostAlloc(p, n, cudaHostAllocDefault); }

cudaError_t cudaFreeHost(void *p) {
    LOCK;
    if (!p) return cudaSuccess;
    if (strict_capture()) return refuse_during_capture();
    auto it = g_allocs.find((uintptr_t)p);
    if (it == g_allocs.end() || !it->second.host) {
        warn("cudaFreeHost(%p): not a live cudaMallocHost/cudaHostAlloc allocation", p);
        return fail(cudaErrorInvalidValue);
    }
    g_allocs.erase(it);
    free(p);
    return cudaSuccess;
}

cudaError_t cudaHostGetDevicePointer(void **dev, void *host, unsigned flags) {
    LOCK;
    uintptr_t base;
    const emu_alloc *a = owner(host, &base);
    if (!dev || flags || !a || !a->host) return fail(cudaErrorInvalidValue);
    *dev = host;
    return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes) {
    LOCK;
    if (!free_bytes || !total_bytes) return fail(cudaErrorInvalidValue);
    *total_bytes = total_mem();
    *free_bytes = *total_bytes - g_dev_used;
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind kind) {
    LOCK;
    if (any_capture()) return refuse_during_capture(); // a host round trip inside a captured step
    const cudaError_t e = check_copy("cudaMemcpy", dst, src, n, kind);
    if (e != cudaSuccess) return fail(e);
    if (n) memmove(dst, src, n);
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind kind, cudaStream_t stream) {
    LOCK;
    const cudaError_t e = check_copy("cudaMemcpyAsync", dst, src, n, kind);
    if (e != cudaSuccess) return fail(e);
    // checked again when it runs: a graph may replay it after a cudaFree
    return qlm_emu_submit(stream, [=] {
        if (check_copy("cudaMemcpyAsync (graph replay)", dst, src, n, kind) != cudaSuccess)
            die("a replayed cudaMemcpyAsync no longer addresses live memory");
        if (n) memmove(dst, src, n);
    });
}

cudaError_t cudaMemset(void *p, int value, size_t n) {
    LOCK;
    if (any_capture()) return refuse_during_capture();
    const cudaError_t e = check_set("cudaMemset", p, n);
    if (e != cudaSuccess) return fail(e);
    if (n) memset(p, value, n);
    return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *p, int value, size_t n, cudaStream_t stream) {
    LOCK;
    const cudaError_t e = check_set("cudaMemsetAsync", p, n);
    if (e != cudaSuccess) return fail(e);
    return qlm_emu_submit(stream, [=] {
        if (check_set("cudaMemsetAsync (graph replay)", p, n) != cudaSuccess)
            die("a replayed cudaMemsetAsync no longer addresses live memory");
        if (n) memset(p, value, n);
    });
}

cudaError_t qlm_emu_symbol_copy(void *dst, const void *src, size_t n, cudaStream_t stream, bool async) {
    LOCK;
    if (!dst || !src) return fail(cudaErrorInvalidValue); // beyond the symbol
    if (!async) {
        if (any_capture()) return refuse_during_capture();
        memmove(dst, src, n);
        return cudaSuccess;
    }
    return qlm_emu_submit(stream, [=] { memmove(dst, src, n); });
}

// ---------------------------------------------------------------------------
// Events: wall-clock times taken when recorded.
// ---------------------------------------------------------------------------
static double now_ms() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned flags) {
    LOCK;
    if (!e || flags > 7) return fail(cudaErrorInvalidValue);
    *e = new qlm_emu_event();
    (*e)->flags = flags;
    g_events.insert(*e);
    return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t *e) { return cudaEventCreateWithFlags(e, cudaEventDefault); }

cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
    LOCK;
    qlm_emu_stream *st;
    if (!g_events.count(e) || find_stream(s, &st) != cudaSuccess) return fail(cudaErrorInvalidResourceHandle);
    e->recorded = true;
    e->ms = now_ms();
    return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t e) {
    LOCK;
    return g_events.count(e) ? cudaSuccess : fail(cudaErrorInvalidResourceHandle);
}

cudaError_t cudaEventQuery(cudaEvent_t e) { return cudaEventSynchronize(e); }

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b) {
    LOCK;
    if (!ms) return fail(cudaErrorInvalidValue);
    if (!g_events.count(a) || !g_events.count(b)) return fail(cudaErrorInvalidResourceHandle);
    if (!a->recorded || !b->recorded || ((a->flags | b->flags) & cudaEventDisableTiming))
        return fail(cudaErrorInvalidResourceHandle);
    *ms = (float)(b->ms - a->ms);
    return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t e) {
    LOCK;
    if (!g_events.erase(e)) return fail(cudaErrorInvalidResourceHandle);
    delete e;
    return cudaSuccess;
}
