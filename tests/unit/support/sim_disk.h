/* sim_disk: an in-memory disk behind the sl_disk_ops_t seam, for unit tests, fuzzers and the
 * simulator. Files are byte arrays with a durable image (what the last completed fsync/fdatasync
 * saw); async completions wait in a FIFO until the test runs them, so ordering is controllable.
 * Faults: fail the Nth write or fdatasync, tear the Nth write, and crash (a copy holding only the
 * durable bytes, optionally plus a torn prefix of the unsynced tail).
 * Simplification: metadata (create, mkdir, rename, unlink, rmdir) is durable at once; fsync_dir
 * is a no-op that is only counted. sim_clock is a hand-driven sl_clock_ops_t. */
#ifndef SLUICE_TESTS_SIM_DISK_H
#define SLUICE_TESTS_SIM_DISK_H

#include "sluice/io.h"

typedef struct sim_disk sim_disk_t;

sim_disk_t *sim_disk_create(void);
void sim_disk_destroy(sim_disk_t *sim); /* drops queued ops without running them */
/* The seam, by value (as sl_log_dir_open takes it). */
sl_disk_t sim_disk_seam(sim_disk_t *sim);

/* Delivers every queued completion (also those queued by callbacks meanwhile); returns how many. */
size_t sim_disk_run(sim_disk_t *sim);
/* Delivers the queued completion at position index (0 = oldest); false when there is none. */
bool sim_disk_run_at(sim_disk_t *sim, size_t index);
size_t sim_disk_pending(const sim_disk_t *sim);

/* Fault injection, counted from now over future submissions: nth = 1 is the next one. */
void sim_disk_fail_write(sim_disk_t *sim, uint32_t nth, int err);
void sim_disk_fail_fsync(sim_disk_t *sim, uint32_t nth, int err);
/* The nth write lands only its first keep_bytes, then completes with -EIO. */
void sim_disk_tear_write(sim_disk_t *sim, uint32_t nth, size_t keep_bytes);

/* Counters. */
uint64_t sim_disk_fdatasync_count(const sim_disk_t *sim); /* async fdatasync calls submitted */
uint64_t sim_disk_write_count(const sim_disk_t *sim);     /* async pwritev calls submitted */

#define SIM_DISK_TEAR_RANDOM (-1)
/* A new disk holding what survives a power loss now: every file's durable image, plus, when
 * keep_unsynced > 0, up to that many of the bytes past it (SIM_DISK_TEAR_RANDOM: a length drawn
 * from seed per file). The old disk is untouched, so the old objects can be closed into it. */
sim_disk_t *sim_disk_crash(const sim_disk_t *sim, int64_t keep_unsynced, uint64_t seed);

/* Test helpers on whole files (all durable at once). */
int sim_disk_write_file(sim_disk_t *sim, const char *path, const void *bytes, size_t len);
/* Borrowed view of the current contents; NULL when missing. Valid until the next op. */
const uint8_t *sim_disk_file(const sim_disk_t *sim, const char *path, size_t *len);
int sim_disk_corrupt(sim_disk_t *sim, const char *path, size_t pos, uint8_t xor_mask);

/* ---- sim_clock ---- */
typedef struct {
    uint64_t monotonic_ms;
    int64_t realtime_ms;
    sl_clock_ops_t ops; /* .data points back here */
} sim_clock_t;
void sim_clock_init(sim_clock_t *clock, int64_t realtime_ms);
void sim_clock_advance(sim_clock_t *clock, uint64_t ms);

#endif
