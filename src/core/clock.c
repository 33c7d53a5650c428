/* clock: the only file that reads the time. Everything that waits takes an sl_clock_ops_t so that
 * tests can move time by hand. */
#include <time.h>

#include "sluice/core.h"

uint64_t sl_clock_monotonic_ns(void)
{
    struct timespec ts;
    int rc = clock_gettime(CLOCK_MONOTONIC, &ts);
    SL_ASSERT(rc == 0);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t sl_clock_monotonic_ms(void)
{
    return sl_clock_monotonic_ns() / 1000000u;
}

int64_t sl_clock_realtime_ms(void)
{
    struct timespec ts;
    int rc = clock_gettime(CLOCK_REALTIME, &ts);
    SL_ASSERT(rc == 0);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t system_monotonic_ms(void *data)
{
    (void)data; /* the system clock has no state */
    return sl_clock_monotonic_ms();
}

static int64_t system_realtime_ms(void *data)
{
    (void)data; /* the system clock has no state */
    return sl_clock_realtime_ms();
}

const sl_clock_ops_t sl_clock_system = {
    .monotonic_ms = system_monotonic_ms,
    .realtime_ms = system_realtime_ms,
    .data = NULL,
};
