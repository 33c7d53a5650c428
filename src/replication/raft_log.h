/* raft_log: the log-backed half of a Raft group's sl_raft_env_t (append, truncate, flush, quorum
 * state) over the log store, for the metadata quorum's __cluster_metadata-0 and, later, every
 * replicated partition. The log is made replicated (sl_log_make_replicated): appends are written
 * without syncing, flushes go through the log dir's group commit (shared with every other log of
 * the dir), and the high watermark clients see is the one the host sets from the core.
 * Invariants: appends land in order at the log end (the core's offsets are the log's); a flush is
 * reported through sl_raft_on_log_flushed, on the loop thread, never inside an env call, and never
 * beyond what an fdatasync covered; truncations and quorum states are durable when the env call
 * returns; after any failure the group is stopped (the next flush reports it) and the host's send
 * must drop messages (sl_raft_log_error), since a state that did not become durable must not be
 * acted on. See src/replication/README.md. */
#ifndef SLUICE_REPLICATION_RAFT_LOG_H
#define SLUICE_REPLICATION_RAFT_LOG_H

#include "sluice/log.h"
#include "sluice/raft.h"

/* KRaft keeps its quorum state in this file of the metadata partition's directory. */
#define SL_RAFT_QUORUM_STATE_FILE "quorum-state"

typedef struct sl_raft_log sl_raft_log_t;

/* Opens (creating when absent) the log of one Raft group in dir: an sl_log_t for topic/partition
 * (retention off: without snapshots every record is still needed), made replicated, plus, when
 * quorum_state_path != NULL, KRaft's quorum-state file (JSON as Kafka writes it:
 * {"clusterId":"","leaderId":..,"leaderEpoch":..,"votedId":..,"appliedOffset":0,
 * "currentVoters":[{"voterId":..},..],"data_version":0}). A missing file is a fresh node; a
 * damaged one is an error (SL_ECORRUPT, logged with the path and what is wrong), never a silent
 * reset, since forgetting a vote could elect two leaders in one epoch. Other errors: those of
 * sl_log_open, -errno from the disk. After open, sl_raft_log_recovered gives what sl_raft_create
 * needs. */
int sl_raft_log_open(sl_log_dir_t *dir, const char *topic, int32_t partition,
                     const sl_uuid_t *topic_id, const char *quorum_state_path, sl_raft_log_t **out);
/* What recovery found: the log end and leader epochs (borrowed from rl until the next env call)
 * and the persisted quorum state (NULL when there was none). */
void sl_raft_log_recovered(const sl_raft_log_t *rl, sl_raft_log_state_t *log_state,
                           const sl_raft_quorum_state_t **persisted);
/* The voters written into the quorum-state file's currentVoters (controller.quorum.voters). */
void sl_raft_log_set_voters(sl_raft_log_t *rl, const int32_t *voters, int32_t voter_count);
/* Fills env->data/log_append/log_truncate/log_flush/quorum_state_save; the host fills send and
 * random_u64 (and may wrap env->data: then its wrappers call these with rl). */
void sl_raft_log_fill_env(sl_raft_log_t *rl, sl_raft_env_t *env);
/* Flush completions go to sl_raft_on_log_flushed(raft, ...) (call before the core can flush,
 * i.e. right after sl_raft_create). Without a bound core they are only recorded
 * (sl_raft_log_flushed_offset). */
void sl_raft_log_bind(sl_raft_log_t *rl, sl_raft_t *raft);

/* The env callbacks, for hosts that wrap env->data (data = rl). */
void sl_raft_log_append(void *rl, const sl_raft_batch_t *batches, size_t batch_count);
void sl_raft_log_truncate(void *rl, int64_t offset);
void sl_raft_log_flush(void *rl, int64_t end_offset);
void sl_raft_log_quorum_state_save(void *rl, const sl_raft_quorum_state_t *state);

/* Leader side of a replica Fetch: whole batches from the one containing offset, up to max_bytes
 * (at least one batch), never past end_offset (the core's records_end_offset, which may be past the
 * high watermark) nor past what is written. cb gets owned bytes (sl_free) or, for an offset at the
 * written end, an empty result; errors as sl_log_read_upto. */
int sl_raft_log_read(sl_raft_log_t *rl, sl_log_read_t *req, int64_t offset, int64_t end_offset,
                     size_t max_bytes, sl_log_read_cb cb, void *data);
/* What clients may see: Fetch of the group's topic by consumers stops here (the host passes
 * sl_raft_high_watermark after each input to the core). */
void sl_raft_log_set_high_watermark(sl_raft_log_t *rl, int64_t high_watermark);

/* The durable end the last completed flush reported (-1 before any), for hosts and tests. */
int64_t sl_raft_log_flushed_offset(const sl_raft_log_t *rl);
/* 0, or the first error that stopped the group (a failed append, flush, truncation or quorum
 * state write). The host's send drops messages once it is nonzero. */
int sl_raft_log_error(const sl_raft_log_t *rl);
sl_log_t *sl_raft_log_log(sl_raft_log_t *rl);
/* Closes the log (sync, as sl_log_close) and frees rl. -EBUSY (nothing done) while an append or a
 * flush is in flight: run the loop until they complete. */
int sl_raft_log_close(sl_raft_log_t *rl);

/* KRaft's quorum-state JSON, for tests and tools: encode into buf (NUL-terminated) and parse
 * (SL_ECORRUPT with a reason when the text is not a quorum state). */
int sl_raft_quorum_state_encode(const sl_raft_quorum_state_t *state, const int32_t *voters,
                                int32_t voter_count, sl_buf_t *out);
int sl_raft_quorum_state_parse(const char *text, size_t len, sl_raft_quorum_state_t *out,
                               const char **reason);

#endif
