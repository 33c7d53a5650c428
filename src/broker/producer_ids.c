/* producer_ids: the producer id allocator (see producer_ids.h). A single node persists its
 * blocks: the file is a few text lines, "block_end N" being the one that counts: every id below N
 * may have been handed out. In quorum mode blocks come from the controller instead.
 * Invariants: single node: the reservation is written and fsync'ed (file and dir) in at least one
 * log dir before ids from it are returned; at start the highest block_end of any dir wins. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker_int.h"
#include "producer_ids.h"

#define PATH_BYTES_MAX 4400
#define LINE_BYTES_MAX 256
#define FILE_LINES_MAX 64

/* The block_end recorded in dir: 0 when there is no file, SL_ECORRUPT when it does not parse. */
static int read_block_end(const char *dir, int64_t *out)
{
    char path[PATH_BYTES_MAX], line[LINE_BYTES_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, SL_PRODUCER_IDS_FILE);
    *out = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return errno == ENOENT ? 0 : -errno;
    int rc = SL_ECORRUPT;
    for (int n = 0; n < FILE_LINES_MAX && fgets(line, sizeof(line), f) != NULL; n++) {
        if (strncmp(line, "block_end ", 10) != 0)
            continue;
        char *end = NULL;
        errno = 0;
        long long v = strtoll(line + 10, &end, 10);
        if (errno == 0 && end != line + 10 && (*end == '\n' || *end == '\0') && v >= 0) {
            *out = (int64_t)v;
            rc = 0;
        }
        break;
    }
    fclose(f);
    return rc;
}

int sl__producer_ids_init(sl_producer_ids_t *ids, const sl_config_t *cfg)
{
    SL_ASSERT(cfg->log_dirs_count >= 1);
    int64_t best = 0;
    for (size_t d = 0; d < cfg->log_dirs_count; d++) {
        int64_t end = 0;
        int rc = read_block_end(cfg->log_dirs[d], &end);
        if (rc != 0) {
            SL_LOG(SL_LOG_ERROR, "producer_ids", "cannot read %s dir=%s error=\"%s\"",
                   SL_PRODUCER_IDS_FILE, cfg->log_dirs[d], sl_strerror(rc));
            return rc;
        }
        best = SL_MAX(best, end);
    }
    /* Quorum mode, until producer ids come from the controller's blocks (AllocateProducerIds):
     * each node hands out ids from its own range, node.id << 32 upwards, so two brokers of one
     * cluster never give the same id to two producers writing to the same partition. */
    if (cfg->quorum_voter_count > 0 && cfg->node_id >= 0 && best < ((int64_t)cfg->node_id << 32))
        best = (int64_t)cfg->node_id << 32;
    *ids = (sl_producer_ids_t){.cfg = cfg, .next = best, .block_end = best};
    SL_LOG(SL_LOG_INFO, "producer_ids", "loaded next_producer_id=%" PRId64, best);
    return 0;
}

/* Records [block_end, block_end + SL_PRODUCER_ID_BLOCK_SIZE) as reserved in every log dir. */
static int reserve_block(sl_producer_ids_t *ids)
{
    if (ids->block_end > INT64_MAX - SL_PRODUCER_ID_BLOCK_SIZE)
        return -EOVERFLOW;
    int64_t end = ids->block_end + SL_PRODUCER_ID_BLOCK_SIZE;
    char text[LINE_BYTES_MAX];
    int len = snprintf(text, sizeof(text),
                       "# Sluice producer ids: written by the broker, do not edit\n"
                       "version 1\nnode_id %d\nblock_start %" PRId64 "\nblock_end %" PRId64 "\n",
                       (int)ids->cfg->node_id, ids->block_end, end);
    SL_ASSERT(len > 0 && (size_t)len < sizeof(text));
    size_t written = 0;
    for (size_t d = 0; d < ids->cfg->log_dirs_count; d++) {
        int rc = sl__durable_file_replace(ids->cfg->log_dirs[d], SL_PRODUCER_IDS_FILE, text,
                                          (size_t)len);
        if (rc == 0)
            written++;
        else
            SL_LOG_RATELIMITED(SL_LOG_ERROR, "producer_ids", "cannot write %s dir=%s error=\"%s\"",
                               SL_PRODUCER_IDS_FILE, ids->cfg->log_dirs[d], sl_strerror(rc));
    }
    /* Highest wins at start, so one dir holding the reservation is enough. */
    if (written == 0)
        return -EIO;
    ids->block_end = end;
    SL_LOG(SL_LOG_INFO, "producer_ids", "reserved producer id block start=%" PRId64 " end=%" PRId64,
           ids->next, end);
    return 0;
}

/* ---- quorum mode: blocks from the controller ---- */

void sl__producer_ids_init_from_controller(sl_producer_ids_t *ids, const sl_config_t *cfg)
{
    *ids = (sl_producer_ids_t){.cfg = cfg, .from_controller = true};
}

/* Kafka's RPCProducerIdManager asks for the next block at 90% of the current one. */
static bool block_mostly_used(const sl_producer_ids_t *ids)
{
    int64_t size = ids->block_end - ids->block_start;
    return ids->next >= ids->block_end || (ids->next - ids->block_start) * 10 >= size * 9;
}

bool sl__producer_ids_block_wanted(const sl_producer_ids_t *ids)
{
    return ids->from_controller && !ids->block_requested &&
           ids->prefetched_start == ids->prefetched_end && block_mostly_used(ids);
}

void sl__producer_ids_block_requested(sl_producer_ids_t *ids)
{
    SL_ASSERT(ids->from_controller && !ids->block_requested);
    ids->block_requested = true;
}

void sl__producer_ids_block_received(sl_producer_ids_t *ids, int16_t error, int64_t start,
                                     int32_t len)
{
    SL_ASSERT(ids->from_controller);
    ids->block_requested = false;
    if (error != SL_KERR_NONE) {
        SL_LOG_RATELIMITED(SL_LOG_WARN, "producer_ids",
                           "the controller gave no producer id block error=%s",
                           sl_kerr_name(error));
        return;
    }
    int64_t held_end = SL_MAX(ids->block_end, ids->prefetched_end);
    if (len <= 0 || start < held_end || start > INT64_MAX - len) {
        SL_LOG(SL_LOG_ERROR, "producer_ids",
               "refused producer id block start=%" PRId64 " len=%d held_end=%" PRId64, start,
               (int)len, held_end);
        return;
    }
    SL_LOG(SL_LOG_INFO, "producer_ids",
           "producer id block from the controller start=%" PRId64 " end=%" PRId64, start,
           start + len);
    if (ids->next == ids->block_end) { /* nothing left: use it now */
        ids->block_start = ids->next = start;
        ids->block_end = start + len;
    } else {
        ids->prefetched_start = start;
        ids->prefetched_end = start + len;
    }
}

static int next_from_controller(sl_producer_ids_t *ids, int64_t *out)
{
    if (ids->next == ids->block_end) {
        if (ids->prefetched_start == ids->prefetched_end)
            return -EAGAIN;
        ids->block_start = ids->next = ids->prefetched_start;
        ids->block_end = ids->prefetched_end;
        ids->prefetched_start = ids->prefetched_end = 0;
    }
    *out = ids->next++;
    return 0;
}

int sl__producer_ids_next(sl_producer_ids_t *ids, int64_t *out)
{
    SL_ASSERT(ids->next <= ids->block_end);
    if (ids->from_controller)
        return next_from_controller(ids, out);
    if (ids->next == ids->block_end) {
        int rc = reserve_block(ids);
        if (rc != 0)
            return rc;
    }
    SL_ASSERT(ids->next < ids->block_end);
    *out = ids->next++;
    return 0;
}
