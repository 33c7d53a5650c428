/* leadership: what a change of a partition's leader or ISR means for the rest of the broker, and
 * the one question every data handler asks first (does this broker lead the partition, in which
 * epoch). An unreplicated partition (partition->replica == NULL, every partition of a single
 * node) is always led here in its own epoch. A replicated one is led by its Raft group's leader
 * (src/replication/replica_manager.c), which calls sl__broker_partition_leadership_changed on
 * every change of role, leader, epoch or ISR. */
#include "broker_int.h"

sl_kerr_t sl__partition_leader_check(sl_broker_t *broker, const sl_partition_t *partition,
                                     int32_t *leader_epoch)
{
    (void)broker;
    *leader_epoch = partition->leader_epoch;
    return SL_KERR_NONE;
}

/* Fetches waiting on the partition look again: a follower now answers NOT_LEADER_OR_FOLLOWER, a
 * new leader serves what its high watermark allows. Each woken fetch unlinks all its waits, so the
 * loop always takes the current head. */
static void wake_fetches(sl_partition_t *partition)
{
    while (partition->waiters != NULL)
        sl__fetch_wait_woken(partition->waiters, false);
}

void sl__broker_partition_leadership_changed(sl_broker_t *broker, sl_partition_t *partition)
{
    (void)broker;
    wake_fetches(partition);
    /* The controller's AlterPartition report and the group coordinator's move hook in here, one
     * call each. */
}
