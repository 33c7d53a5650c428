/* fuzz_log_recovery: arbitrary bytes become a partition's newest segment on sim_disk and the log
 * is opened (recovered) from them. It must never crash, and after an unclean-shutdown recovery the
 * segment must hold only whole, CRC-valid batches with dense offsets from the segment's base, the
 * log end offset just past them; a read of everything must return exactly those batches.
 * Input: byte 0 = mode (bit 0: clean-shutdown marker present; bit 1: bytes 1..16 become the
 * .index file), the rest is the segment. */
#include <stdlib.h>
#include <string.h>

#include "../unit/support/sim_disk.c"
#include "log/log_int.h"

#define SEG "/data/f-0/00000000000000000000.log"

static void on_read(sl_log_read_t *req, int status, uint8_t *bytes, size_t len, void *data)
{
    (void)req; /* result checked here */
    (void)status;
    size_t *out = data;
    *out = len;
    sl_free(bytes);
}

static void on_closed(sl_log_dir_t *dir, void *data)
{
    (void)dir; /* freed after */
    *(bool *)data = true;
}

/* Walks the recovered segment: every batch whole and valid; returns the offset after the last. */
static int64_t check_segment(const uint8_t *p, size_t len)
{
    size_t pos = 0;
    int64_t next = 0;
    sl_batch_info_t info;
    while (pos < len) {
        if (sl__batch_check(p + pos, len - pos, true, &info) != 0 || info.base_offset != next ||
            (uint64_t)info.batch_bytes > len - pos)
            abort();
        next = info.last_offset + 1;
        pos += (size_t)info.batch_bytes;
    }
    return next;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    sl_log_configure(SL_LOG_OFF, SL_LOG_FORMAT_TEXT);
    uint8_t mode = data[0];
    data++;
    size--;
    sim_disk_t *sim = sim_disk_create();
    sl_disk_t disk = sim_disk_seam(sim);
    disk.ops->mkdir(&disk, "/data");
    disk.ops->mkdir(&disk, "/data/f-0");
    if (mode & 1)
        sim_disk_write_file(sim, "/data/.kafka_cleanshutdown", "", 0);
    if ((mode & 2) && size >= 16) {
        sim_disk_write_file(sim, "/data/f-0/00000000000000000000.index", data, 16);
        data += 16;
        size -= 16;
    }
    sim_disk_write_file(sim, SEG, data, size);
    sim_clock_t clock;
    sim_clock_init(&clock, 1700000000000);
    sl_log_dir_t *dir = NULL;
    if (sl_log_dir_open("/data", disk, &clock.ops, &dir) != 0)
        abort();
    sl_log_config_t cfg;
    sl_log_config_default(&cfg);
    sl_log_t *log = NULL;
    if (sl_log_open(dir, "f", 0, NULL, &cfg, &log) == 0) {
        size_t len = 0;
        const uint8_t *seg = sim_disk_file(sim, SEG, &len);
        if (!(mode & 1) && (seg == NULL || check_segment(seg, len) != sl_log_end_offset(log)))
            abort();
        sl_log_read_t req;
        size_t got = 0;
        if (sl_log_read(log, &req, 0, 1 << 20, true, on_read, &got) == 0)
            sim_disk_run(sim);
        if (!(mode & 1) && got != SL_MIN(len, (size_t)(1 << 20)) && len <= (1 << 20))
            abort();
    }
    bool closed = false;
    sl_log_dir_close(dir, on_closed, &closed);
    sim_disk_run(sim);
    if (!closed)
        abort();
    sim_disk_destroy(sim);
    return 0;
}
