/* controlled_shutdown: what SIGTERM does in quorum mode before the broker stops serving. Every
 * partition this node leads resigns (the Raft core names the most caught-up in-sync replicas as
 * preferred successors in its EndQuorumEpoch) and the broker keeps answering while the others
 * elect, for at most the replica manager's bounded wait; the metadata quorum resigns after that in
 * the ordinary stop path. A rolling restart then costs clients one NOT_LEADER_OR_FOLLOWER retry,
 * not a fetch timeout. This file counts and logs what moved; the waiting is the replica
 * manager's (sl_replica_manager_resign_all). Also the leader and replica counts of /metrics and
 * /readyz's replication condition, which read the same per-partition states. */
#include <inttypes.h>

#include "broker_int.h"
#include "replica_manager.h"

typedef struct {
    const sl_broker_t *broker;
    sl_replication_counts_t *counts;
} count_pass_t;

static bool count_topic(sl_topic_t *topic, void *data)
{
    count_pass_t *pass = data;
    int32_t self = pass->broker->cfg->node_id;
    for (int32_t p = 0; p < topic->partition_count; p++) {
        const sl_partition_t *partition = &topic->partitions[p];
        if (partition->replica == NULL)
            continue;
        sl_partition_replica_state_t st;
        sl_partition_replica_state(partition->replica, &st);
        pass->counts->replicated++;
        pass->counts->led += st.leader;
        /* a resigned leader still names itself until another wins or starts the next epoch */
        pass->counts->still_led += st.leader_id == self;
        pass->counts->leaderless += st.leader_id < 0;
    }
    return true;
}

void sl__replication_counts(sl_broker_t *broker, sl_replication_counts_t *out)
{
    *out = (sl_replication_counts_t){0};
    if (broker->topics == NULL)
        return;
    count_pass_t pass = {.broker = broker, .counts = out};
    sl__topics_each(broker->topics, count_topic, &pass);
}

void sl__controlled_shutdown_begin(sl_broker_t *broker)
{
    sl_replication_counts_t counts;
    sl__replication_counts(broker, &counts);
    broker->shutdown_started_ms = uv_now(broker->loop);
    SL_LOG(SL_LOG_INFO, "broker",
           "controlled shutdown: resigning partition leaderships led=%zu replicated=%zu",
           counts.led, counts.replicated);
}

void sl__controlled_shutdown_report(sl_broker_t *broker)
{
    sl_replication_counts_t counts;
    sl__replication_counts(broker, &counts);
    uint64_t waited = uv_now(broker->loop) - broker->shutdown_started_ms;
    if (counts.still_led == 0 && counts.leaderless == 0)
        SL_LOG(SL_LOG_INFO, "broker",
               "controlled shutdown: every partition has another leader still_led=0 "
               "waited_ms=%" PRIu64,
               waited);
    else /* electing: a successor's election (a newer epoch) is under way, as the wait allows */
        SL_LOG(SL_LOG_WARN, "broker",
               "controlled shutdown: handover incomplete after the bounded wait still_led=%zu "
               "electing=%zu waited_ms=%" PRIu64,
               counts.still_led, counts.leaderless, waited);
}
