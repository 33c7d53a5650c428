/* leadership: what a change of a partition's leader or ISR means for the rest of the broker, the
 * one question every data handler asks first (does this broker lead the partition, in which
 * epoch), and the glue between the broker's partitions and their Raft groups. An unreplicated
 * partition (partition->replica == NULL, every partition of a single node) is always led here in
 * its own epoch. A replicated one is led by its Raft group's leader (the replica manager,
 * src/replication/replica_manager.c), which reports every change of role, leader, epoch or ISR
 * here (sl__broker_partition_leadership_changed). */
#include <errno.h>
#include <string.h>

#include "broker_int.h"
#include "replica_manager.h"

sl_kerr_t sl__partition_leader_check(sl_broker_t *broker, const sl_partition_t *partition,
                                     int32_t *leader_epoch)
{
    (void)broker;
    *leader_epoch = partition->leader_epoch;
    if (partition->log == NULL)
        return SL_KERR_NOT_LEADER_OR_FOLLOWER; /* its replication stopped: no replica here */
    if (partition->replica == NULL)
        return SL_KERR_NONE;
    sl_partition_replica_state_t st;
    sl_partition_replica_state(partition->replica, &st);
    *leader_epoch = st.leader_epoch;
    if (st.offline)
        return SL_KERR_KAFKA_STORAGE_ERROR;
    return st.leader ? SL_KERR_NONE : SL_KERR_NOT_LEADER_OR_FOLLOWER;
}

void sl__partition_current_leader(sl_broker_t *broker, const sl_partition_t *partition,
                                  int32_t *leader_id, int32_t *leader_epoch)
{
    *leader_id = broker->cfg->node_id;
    *leader_epoch = partition->leader_epoch;
    if (partition->replica == NULL)
        return;
    sl_partition_replica_state_t st;
    sl_partition_replica_state(partition->replica, &st);
    *leader_id = st.leader_id;
    *leader_epoch = st.leader_id >= 0 ? st.leader_epoch : -1;
}

/* Fetches waiting on the partition look again: a follower now answers NOT_LEADER_OR_FOLLOWER, a
 * new leader serves what its high watermark allows. Each woken fetch unlinks all its waits, so the
 * loop always takes the current head. */
static void wake_fetches(sl_partition_t *partition, bool closing)
{
    while (partition->waiters != NULL)
        sl__fetch_wait_woken(partition->waiters, closing);
}

void sl__broker_partition_leadership_changed(sl_broker_t *broker, sl_partition_t *partition)
{
    wake_fetches(partition, false);
    sl__groups_partition_leadership_changed(broker, partition);
    /* The controller's AlterPartition report and the group coordinator's move hook in here, one
     * call each. */
    if (broker->cluster != NULL)
        sl__cluster_partition_changed(broker->cluster);
}

/* ---- partitions as Raft groups ------------------------------------------------------------- */

/* The replica manager's report: keep the partition's epoch (stamped in answers) and tell the
 * rest of the broker. */
static void replica_changed(sl_partition_replica_t *replica, void *owner, void *data)
{
    sl_broker_t *broker = data;
    sl_partition_t *partition = owner;
    sl_partition_replica_state_t st;
    sl_partition_replica_state(replica, &st);
    if (st.leader_epoch > partition->leader_epoch)
        partition->leader_epoch = st.leader_epoch;
    sl__broker_partition_leadership_changed(broker, partition);
}

/* The group's high watermark moved (sl_raft_log_set_high_watermark): consumers may see more. */
static void replica_high_watermark_moved(sl_log_t *log, void *data)
{
    sl_partition_t *partition = data;
    (void)log;
    wake_fetches(partition, false);
}

int sl__replication_start(sl_broker_t *broker)
{
    if (broker->cfg->quorum_voter_count == 0)
        return 0; /* a single node: no partition is replicated */
    return sl_replica_manager_create(broker->loop, broker->cfg, replica_changed, broker,
                                     &broker->replicas);
}

/* The log dir's path for a partition (the quorum-state file lives in the partition dir). */
static const char *dir_path_of(const sl_broker_t *broker, const sl_log_dir_t *dir)
{
    for (size_t i = 0; i < broker->cfg->log_dirs_count; i++)
        if (broker->log_dirs[i] == dir)
            return broker->cfg->log_dirs[i];
    return NULL;
}

int sl__partition_replication_start(sl_broker_t *broker, sl_partition_t *partition,
                                    const int32_t *replicas, int32_t count)
{
    if (broker->replicas == NULL)
        return SL_ECONFIG;
    if (partition->replica != NULL)
        return sl_replica_manager_update_replicas(broker->replicas, partition->replica, replicas,
                                                  count);
    const char *dir_path = dir_path_of(broker, partition->dir);
    if (dir_path == NULL)
        return -ENOENT;
    /* The Raft group opens the log itself (replicated from its first read): a log the topic
     * table opened is closed first (it has had no I/O yet: nothing reads a partition before it is
     * replicated). */
    if (partition->log != NULL) {
        sl_log_set_hw_listener(partition->log, NULL, NULL);
        int rc = sl_log_close(partition->log);
        if (rc != 0)
            return rc;
        partition->log = NULL;
    }
    sl_partition_replica_spec_t spec = {.dir = partition->dir,
                                        .dir_path = dir_path,
                                        .topic = partition->topic->name,
                                        .topic_id = partition->topic->id,
                                        .partition = partition->index,
                                        .min_insync_replicas =
                                            partition->topic->min_insync_replicas,
                                        .owner = partition};
    int rc = sl_replica_manager_start_partition(broker->replicas, &spec, replicas, count,
                                                &partition->replica);
    if (rc != 0)
        return rc;
    partition->log = sl_partition_replica_log(partition->replica);
    sl_log_set_hw_listener(partition->log, replica_high_watermark_moved, partition);
    return 0;
}

void sl__partition_replication_stop(sl_broker_t *broker, sl_partition_t *partition, bool delete_log)
{
    if (partition->replica == NULL)
        return;
    wake_fetches(partition, true);
    sl_log_set_hw_listener(partition->log, NULL, NULL);
    sl_replica_manager_stop_partition(broker->replicas, partition->replica, delete_log);
    partition->replica = NULL;
    partition->log = NULL; /* closed by the replica manager once its I/O is done */
}

static bool stop_topic_replicas(sl_topic_t *topic, void *data)
{
    for (int32_t p = 0; p < topic->partition_count; p++)
        sl__partition_replication_stop(data, &topic->partitions[p], false);
    return true;
}

void sl__replication_close(sl_broker_t *broker, void (*done)(void *data), void *data)
{
    if (broker->topics != NULL)
        sl__topics_each(broker->topics, stop_topic_replicas, broker);
    sl_replica_manager_t *mgr = broker->replicas;
    broker->replicas = NULL;
    sl_replica_manager_close(mgr, done, data);
}
