#ifndef TANDEM_CLMDB_SHIM_H
#define TANDEM_CLMDB_SHIM_H
// Debian's liblmdb-dev (0.9.x). tandem talks to LMDB only through this module.
#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

/// Asks the CPU to start loading the 4 KiB page of the map that holds `address` into its caches
/// (LMDB's page where the OS page is 4 KiB, as on x86-64 Linux; elsewhere part of a page),
/// all of it at once, and the page after it (where an append-only database usually put the next
/// leaf): a sequential walk then waits for about one memory access per page instead of one per
/// cache line. A hint: it never faults and changes no data.
static inline void tandem_prefetch_page(const void *address) {
    const char *page = (const char *)((uintptr_t)address & ~(uintptr_t)4095);
    for (size_t offset = 0; offset < 8192; offset += 64) __builtin_prefetch(page + offset, 0, 3);
}
#endif
