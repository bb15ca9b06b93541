/* Per-thread fault counters for the syscall and allocation wrappers. */
#include <stdbool.h>
#include <string.h>

#include "sys/fault.h"

struct fault_site {
    unsigned long calls;   /* calls seen since reset */
    unsigned long fail_at; /* 0 = disarmed */
    int err;
    bool persistent;
};

_Thread_local bool cio__fault_active;
static _Thread_local struct fault_site sites[CIO_FAULT__COUNT];

void cio__fault_arm(enum cio__fault_site site, unsigned long nth, int err, bool persistent)
{
    struct fault_site *s = &sites[site];
    s->fail_at = s->calls + (nth ? nth : 1);
    s->err = err;
    s->persistent = persistent;
    cio__fault_active = true;
}

void cio__fault_reset(void)
{
    memset(sites, 0, sizeof(sites));
    cio__fault_active = false;
}

unsigned long cio__fault_calls(enum cio__fault_site site)
{
    return sites[site].calls;
}

int cio__fault_check(enum cio__fault_site site)
{
    struct fault_site *s = &sites[site];
    s->calls++;
    if (s->fail_at == 0 || s->calls < s->fail_at)
        return 0;
    if (s->calls > s->fail_at && !s->persistent)
        return 0;
    return s->err ? s->err : -1;
}
