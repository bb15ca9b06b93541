/* Task stacks: mmap'd, a guard page below each, pooled for reuse.
 *
 * Stacks of the default size are carved from chunks of STACKS_PER_CHUNK so
 * that 100k tasks need a few thousand mappings, not 100k.  Guard pages are
 * installed with MADV_GUARD_INSTALL where the kernel has it (6.13+): it
 * does not split the mapping, so a chunk stays one VMA.  Elsewhere each
 * guard is an mprotect(PROT_NONE), two VMAs per stack, and running out of
 * mappings is reported as an error naming vm.max_map_count.
 *
 * Freed stacks go to a warm list (reused as they are, fastest); beyond
 * WARM_MAX they are madvise(MADV_DONTNEED)'d first so an idle pool does
 * not pin memory. */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/internal.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

enum { STACKS_PER_CHUNK = 16, WARM_MAX = 64 };

struct cio__stack_chunk {
    cio__node node;
    void *mem;
    size_t len;
    cio__stack stacks[]; /* descriptors live here, not on the stacks, so
                            a freed stack can give back all its pages */
};

struct cio__stack_pool {
    cio__node chunks;
    cio__node warm, cold; /* free stacks, by size class */
    size_t nwarm;
    size_t page;
};

/* -1 unknown, 0 no, 1 yes: does this kernel have MADV_GUARD_INSTALL?
 * Atomic: loops on several threads probe it at once. */
static atomic_int guard_install_works = -1;

static size_t page_size(void)
{
    static size_t page;
    if (!page)
        page = (size_t)sysconf(_SC_PAGESIZE);
    return page;
}

cio__stack_pool *cio__stack_pool_new(void)
{
    cio__stack_pool *pool = cio__calloc(1, sizeof(*pool));
    if (!pool)
        return NULL;
    cio__list_init(&pool->chunks);
    cio__list_init(&pool->warm);
    cio__list_init(&pool->cold);
    pool->page = page_size();
    return pool;
}

void cio__stack_pool_free(cio__stack_pool *pool)
{
    cio__node *n, *tmp;
    if (!pool)
        return;
    cio__list_each_safe(n, tmp, &pool->chunks)
    {
        struct cio__stack_chunk *c = cio__container_of(n, struct cio__stack_chunk, node);
        cio__munmap(c->mem, c->len);
        cio__free(c);
    }
    cio__free(pool);
}

static int install_guard(void *addr, size_t len)
{
    if (atomic_load_explicit(&guard_install_works, memory_order_relaxed) != 0) {
        if (cio__madvise(addr, len, MADV_GUARD_INSTALL) == 0) {
            atomic_store_explicit(&guard_install_works, 1, memory_order_relaxed);
            return 0;
        }
        if (errno != EINVAL)
            return cio__err();
        atomic_store_explicit(&guard_install_works, 0, memory_order_relaxed);
    }
    if (cio__mprotect(addr, len, PROT_NONE) == 0)
        return 0;
    if (errno == ENOMEM)
        fprintf(stderr, "cio: cannot add a stack guard page: the process has reached "
                        "vm.max_map_count mappings (raise it with sysctl vm.max_map_count)\n");
    return cio__err();
}

/* Each slot is [guard page][stack]. */
static int new_chunk(cio__stack_pool *pool, size_t size, unsigned count)
{
    size_t slot = size + pool->page;
    size_t len = slot * count;
    void *mem = cio__mmap(NULL, len, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (mem == MAP_FAILED) {
        int err = cio__err();
        if (err == -ENOMEM)
            fprintf(stderr, "cio: cannot map task stacks: out of memory or of mappings "
                            "(vm.max_map_count)\n");
        return err;
    }
    struct cio__stack_chunk *chunk = cio__malloc(sizeof(*chunk) + count * sizeof(cio__stack));
    if (!chunk) {
        cio__munmap(mem, len);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < count; i++) {
        int err = install_guard((char *)mem + i * slot, pool->page);
        if (err) {
            cio__munmap(mem, len);
            cio__free(chunk);
            return err;
        }
    }
    chunk->mem = mem;
    chunk->len = len;
    cio__list_push_back(&pool->chunks, &chunk->node);
    for (unsigned i = 0; i < count; i++) {
        cio__stack *s = &chunk->stacks[i];
        s->base = (char *)mem + i * slot + pool->page;
        s->size = size;
        s->chunk = chunk;
        cio__list_push_back(&pool->cold, &s->free_node);
    }
    return 0;
}

static cio__stack *take_free(cio__node *list, size_t size)
{
    cio__node *n, *tmp;
    cio__list_each_safe(n, tmp, list)
    {
        cio__stack *s = cio__container_of(n, cio__stack, free_node);
        if (s->size == size) {
            cio__list_remove(n);
            return s;
        }
    }
    return NULL;
}

int cio__stack_get(cio__stack_pool *pool, size_t size, cio__stack **out)
{
    size = (size + pool->page - 1) & ~(pool->page - 1);
    cio__stack *s = take_free(&pool->warm, size);
    if (s) {
        pool->nwarm--;
    } else {
        s = take_free(&pool->cold, size);
        if (!s) {
            unsigned count = size == cio_default_stack_size() ? STACKS_PER_CHUNK : 1;
            int err = new_chunk(pool, size, count);
            if (err)
                return err;
            s = take_free(&pool->cold, size);
        }
    }
    *out = s;
    return 0;
}

void cio__stack_put(cio__stack_pool *pool, cio__stack *s)
{
    if (pool->nwarm < WARM_MAX) {
        cio__list_push_front(&pool->warm, &s->free_node);
        pool->nwarm++;
        return;
    }
    /* Give the pages back but keep the mapping (and its guard). */
    cio__madvise(s->base, s->size, MADV_DONTNEED);
    cio__list_push_front(&pool->cold, &s->free_node);
}

bool cio__stack_in_guard(const cio__stack *s, const void *addr)
{
    const char *guard = (const char *)s->base - page_size();
    return (const char *)addr >= guard && (const char *)addr < (const char *)s->base;
}

/* ---- default size --------------------------------------------------------- */

static size_t default_stack_size = CIO_DEFAULT_STACK_SIZE;

size_t cio_default_stack_size(void)
{
    return default_stack_size;
}

int cio_set_default_stack_size(size_t size)
{
    size_t page = page_size();
    if (size < CIO_MIN_STACK_SIZE)
        size = CIO_MIN_STACK_SIZE;
    if (size > ((size_t)1 << 30))
        return -EINVAL;
    default_stack_size = (size + page - 1) & ~(page - 1);
    return 0;
}
