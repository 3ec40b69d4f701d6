// Lets valgrind 3.19 run tandem: its sigsuspend wrapper writes into the mask it is given, and
// libdispatch passes a mask in read-only memory. This passes a copy. Used only by
// callgrind_serve.py (LD_PRELOAD), never linked into tandem.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>

int sigsuspend(const sigset_t *mask) {
    static int (*real)(const sigset_t *);
    if (!real) real = (int (*)(const sigset_t *))dlsym(RTLD_NEXT, "sigsuspend");
    sigset_t copy = *mask;
    return real(&copy);
}
