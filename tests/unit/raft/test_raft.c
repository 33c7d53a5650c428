/* Unit tests for src/raft: single transitions of the core, driven by hand through a fake
 * environment that records what it was asked to send, append, truncate, flush and save (and in
 * which order). The many-node behaviour under faults is tests/sim's job. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/raft.h"

#define RECORDED_MAX 64

/* What the core asked of the outside world, in order: 'M' message, 'A' append, 'T' truncate,
 * 'F' flush, 'S' quorum state saved. */
typedef struct {
    char calls[RECORDED_MAX * 4];
    size_t call_count;
    sl_raft_msg_t sent[RECORDED_MAX];
    size_t sent_count;
    sl_raft_batch_t appended[RECORDED_MAX];
    size_t appended_count;
    int64_t truncated_to, flush_end;
    size_t flush_count;
    sl_raft_quorum_state_t saved;
    size_t save_count;
} fake_env_t;

static fake_env_t fake;

static void note(char c)
{
    if (fake.call_count + 1 < sizeof fake.calls)
        fake.calls[fake.call_count++] = c;
}
static void fake_send(void *data, const sl_raft_msg_t *msg)
{
    (void)data;
    note('M');
    assert_true(fake.sent_count < RECORDED_MAX);
    fake.sent[fake.sent_count++] = *msg;
}
static void fake_append(void *data, const sl_raft_batch_t *batches, size_t count)
{
    (void)data;
    note('A');
    for (size_t i = 0; i < count; i++) {
        assert_true(fake.appended_count < RECORDED_MAX);
        fake.appended[fake.appended_count++] = batches[i];
    }
}
static void fake_truncate(void *data, int64_t offset)
{
    (void)data;
    note('T');
    fake.truncated_to = offset;
}
static void fake_flush(void *data, int64_t end_offset)
{
    (void)data;
    note('F');
    fake.flush_end = end_offset;
    fake.flush_count++;
}
static void fake_save(void *data, const sl_raft_quorum_state_t *state)
{
    (void)data;
    note('S');
    fake.saved = *state;
    fake.save_count++;
}
static uint64_t fake_random(void *data)
{
    (void)data;
    return 0; /* election timeouts are exactly election_timeout_ms */
}

static const sl_raft_env_t fake_env = {NULL,       fake_send, fake_append, fake_truncate,
                                       fake_flush, fake_save, fake_random};

static void forget(void)
{
    memset(&fake, 0, sizeof fake);
    fake.truncated_to = -1;
}

/* Node `self` of voters {1, 2, 3}, with an optional log (epoch entries, end) and quorum state. */
static sl_raft_t *make_node(int32_t self, const sl_raft_epoch_entry_t *epochs, size_t epoch_count,
                            int64_t log_end, const sl_raft_quorum_state_t *qs)
{
    sl_raft_config_t cfg;
    sl_raft_config_default(&cfg, self);
    cfg.voter_count = 3;
    cfg.voters[0] = 1;
    cfg.voters[1] = 2;
    cfg.voters[2] = 3;
    sl_raft_log_state_t log = {log_end, epochs, epoch_count};
    sl_raft_t *raft = NULL;
    forget();
    assert_int_equal(sl_raft_create(&cfg, &fake_env, qs, &log, 1000, &raft), 0);
    return raft;
}

static sl_raft_msg_t vote_request(int32_t from, int32_t to, int32_t epoch, int32_t last_epoch,
                                  int64_t last_offset, bool pre_vote)
{
    sl_raft_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = SL_RAFT_MSG_VOTE_REQUEST;
    m.source_id = from;
    m.destination_id = to;
    m.correlation_id = 77;
    m.u.vote_request = (sl_raft_vote_request_t){epoch, last_epoch, last_offset, pre_vote};
    return m;
}

static sl_raft_msg_t fetch_request(int32_t from, int32_t to, int32_t epoch, int64_t offset,
                                   int32_t last_epoch)
{
    sl_raft_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = SL_RAFT_MSG_FETCH_REQUEST;
    m.source_id = from;
    m.destination_id = to;
    m.correlation_id = 5;
    m.u.fetch_request = (sl_raft_fetch_request_t){epoch, offset, last_epoch, 500};
    return m;
}

static const sl_raft_msg_t *last_sent(void)
{
    assert_true(fake.sent_count > 0);
    return &fake.sent[fake.sent_count - 1];
}

static sl_raft_msg_t reply(const sl_raft_msg_t *req, sl_raft_msg_type_t type)
{
    sl_raft_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.source_id = req->destination_id;
    m.destination_id = req->source_id;
    m.correlation_id = req->correlation_id;
    return m;
}

/* Drives node 1 from a fresh start to leader of epoch (persisted epoch + 1) with node 2's
 * pre-vote and vote. */
static void elect(sl_raft_t *raft, uint64_t *now)
{
    *now += 2000; /* past the election timeout: prospective */
    sl_raft_tick(raft, *now);
    assert_int_equal(sl_raft_role(raft), SL_RAFT_PROSPECTIVE);
    sl_raft_msg_t grant = reply(&fake.sent[0], SL_RAFT_MSG_VOTE_RESPONSE);
    grant.u.vote_response =
        (sl_raft_vote_response_t){0, SL_RAFT_NODE_NONE, sl_raft_epoch(raft), true};
    forget();
    sl_raft_receive(raft, &grant);
    assert_int_equal(sl_raft_role(raft), SL_RAFT_CANDIDATE);
    grant = reply(&fake.sent[0], SL_RAFT_MSG_VOTE_RESPONSE);
    grant.u.vote_response =
        (sl_raft_vote_response_t){0, SL_RAFT_NODE_NONE, sl_raft_epoch(raft), true};
    forget();
    sl_raft_receive(raft, &grant);
    assert_int_equal(sl_raft_role(raft), SL_RAFT_LEADER);
}

/* ---- votes --------------------------------------------------------------------------------- */

static void test_vote_granted_once_per_epoch_and_saved_first(void **state)
{
    (void)state;
    sl_raft_t *raft = make_node(1, NULL, 0, 0, NULL);
    sl_raft_msg_t req = vote_request(2, 1, 1, 0, 0, false);
    sl_raft_receive(raft, &req);
    /* Epoch bump saved, then the vote saved, and only then the answer. */
    assert_string_equal(fake.calls, "SSM");
    assert_int_equal(fake.saved.leader_epoch, 1);
    assert_int_equal(fake.saved.voted_id, 2);
    assert_true(last_sent()->u.vote_response.vote_granted);
    assert_int_equal(last_sent()->correlation_id, 77);

    sl_raft_msg_t other = vote_request(3, 1, 1, 0, 0, false);
    sl_raft_receive(raft, &other);
    assert_false(last_sent()->u.vote_response.vote_granted);

    sl_raft_receive(raft, &req); /* a duplicate gets the same answer */
    assert_true(last_sent()->u.vote_response.vote_granted);
    assert_int_equal(sl_raft_epoch(raft), 1);
    sl_raft_destroy(raft);
}

static void test_vote_requires_up_to_date_log(void **state)
{
    (void)state;
    sl_raft_epoch_entry_t epochs[] = {{1, 0}, {2, 3}};
    sl_raft_quorum_state_t qs = {2, SL_RAFT_NODE_NONE, SL_RAFT_NODE_NONE};
    sl_raft_t *raft = make_node(1, epochs, 2, 5, &qs);

    sl_raft_msg_t older_epoch = vote_request(2, 1, 3, 1, 10, false); /* longer but older */
    sl_raft_receive(raft, &older_epoch);
    assert_false(last_sent()->u.vote_response.vote_granted);
    assert_int_equal(sl_raft_epoch(raft), 3); /* the epoch moves on regardless */

    sl_raft_msg_t shorter = vote_request(2, 1, 3, 2, 4, false);
    sl_raft_receive(raft, &shorter);
    assert_false(last_sent()->u.vote_response.vote_granted);

    sl_raft_msg_t equal = vote_request(2, 1, 3, 2, 5, false);
    sl_raft_receive(raft, &equal);
    assert_true(last_sent()->u.vote_response.vote_granted);
    sl_raft_destroy(raft);
}

static void test_stale_vote_rejected_with_current_epoch(void **state)
{
    (void)state;
    sl_raft_quorum_state_t qs = {5, SL_RAFT_NODE_NONE, SL_RAFT_NODE_NONE};
    sl_raft_t *raft = make_node(1, NULL, 0, 0, &qs);
    sl_raft_msg_t req = vote_request(2, 1, 4, 0, 0, false);
    sl_raft_receive(raft, &req);
    assert_false(last_sent()->u.vote_response.vote_granted);
    assert_int_equal(last_sent()->u.vote_response.leader_epoch, 5);
    assert_int_equal(fake.save_count, 0);
    sl_raft_destroy(raft);
}

static void test_pre_vote_changes_nothing(void **state)
{
    (void)state;
    sl_raft_quorum_state_t qs = {1, SL_RAFT_NODE_NONE, SL_RAFT_NODE_NONE};
    sl_raft_t *raft = make_node(1, NULL, 0, 0, &qs);
    sl_raft_msg_t req = vote_request(2, 1, 3, 0, 0, true);
    sl_raft_receive(raft, &req);
    assert_true(last_sent()->u.vote_response.vote_granted);
    assert_int_equal(sl_raft_epoch(raft), 1);
    assert_int_equal(fake.save_count, 0);
    /* ...so a real vote in epoch 2 can still go to someone else. */
    sl_raft_msg_t real = vote_request(3, 1, 2, 0, 0, false);
    sl_raft_receive(raft, &real);
    assert_true(last_sent()->u.vote_response.vote_granted);
    assert_int_equal(fake.saved.voted_id, 3);
    sl_raft_destroy(raft);
}

static void test_pre_vote_refused_while_leader_is_live(void **state)
{
    (void)state;
    sl_raft_quorum_state_t qs = {4, SL_RAFT_NODE_NONE, 2}; /* follower of 2 in epoch 4 */
    sl_raft_t *raft = make_node(1, NULL, 0, 0, &qs);
    assert_int_equal(sl_raft_role(raft), SL_RAFT_FOLLOWER);
    sl_raft_msg_t pre = vote_request(3, 1, 4, 0, 0, true);
    sl_raft_tick(raft, 1500); /* within the fetch timeout */
    sl_raft_receive(raft, &pre);
    assert_false(last_sent()->u.vote_response.vote_granted);
    assert_int_equal(last_sent()->u.vote_response.leader_id, 2);
    assert_int_equal(sl_raft_role(raft), SL_RAFT_FOLLOWER);
    assert_int_equal(sl_raft_epoch(raft), 4);

    sl_raft_tick(raft, 1000 + 2000); /* the leader went quiet: prospective, grants pre-votes */
    assert_int_equal(sl_raft_role(raft), SL_RAFT_PROSPECTIVE);
    assert_int_equal(sl_raft_epoch(raft), 4);
    sl_raft_receive(raft, &pre);
    assert_true(last_sent()->u.vote_response.vote_granted);
    sl_raft_destroy(raft);
}

/* Two followers of a leader that died time out a little apart. The first, prospective, is told by
 * the second (not timed out yet) to follow the leader again; when the second times out and asks
 * it, it must grant: it has not heard from that leader since, whatever its role says. (Found with
 * three real processes: refusing there sent the two back to the dead leader for ever.) */
static void test_prospective_sent_back_to_a_dead_leader_still_grants(void **state)
{
    (void)state;
    sl_raft_quorum_state_t qs = {4, SL_RAFT_NODE_NONE, 2}; /* follower of 2 in epoch 4 */
    sl_raft_t *raft = make_node(1, NULL, 0, 0, &qs);
    sl_raft_tick(raft, 1000 + 2000); /* no fetch succeeded: prospective */
    assert_int_equal(sl_raft_role(raft), SL_RAFT_PROSPECTIVE);
    int32_t round = last_sent()->correlation_id;
    sl_raft_msg_t refusal = {.type = SL_RAFT_MSG_VOTE_RESPONSE,
                             .source_id = 3,
                             .destination_id = 1,
                             .correlation_id = round,
                             .u.vote_response = {SL_RAFT_ERR_NONE, 2, 4, false}};
    sl_raft_receive(raft, &refusal);
    assert_int_equal(sl_raft_role(raft), SL_RAFT_FOLLOWER);
    assert_int_equal(sl_raft_leader_id(raft), 2);
    sl_raft_tick(raft, 1000 + 2040); /* voter 3 times out in turn and asks */
    sl_raft_msg_t pre = vote_request(3, 1, 4, 0, 0, true);
    sl_raft_receive(raft, &pre);
    assert_true(last_sent()->u.vote_response.vote_granted);
    sl_raft_destroy(raft);
}

static sl_raft_msg_t fetch_answer(int32_t from, int32_t to, int32_t correlation_id, int16_t error,
                                  int32_t leader, int32_t epoch, int64_t hw)
{
    sl_raft_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = SL_RAFT_MSG_FETCH_RESPONSE;
    m.source_id = from;
    m.destination_id = to;
    m.correlation_id = correlation_id;
    m.u.fetch_response = (sl_raft_fetch_response_t){.error_code = error,
                                                    .leader_id = leader,
                                                    .leader_epoch = epoch,
                                                    .high_watermark = hw,
                                                    .diverging_epoch = -1,
                                                    .diverging_end_offset = -1};
    return m;
}

/* An observer (node 4, not a voter) finds the leader by asking the voters in turn with a Fetch,
 * follows it, waits out the max wait itself when there is nothing new (the leader never parks an
 * observer's fetch), never campaigns, and when the leader goes quiet asks the voters again. */
static void test_observer_finds_and_follows_the_leader(void **state)
{
    (void)state;
    sl_raft_t *raft = make_node(4, NULL, 0, 0, NULL);
    assert_int_equal(sl_raft_role(raft), SL_RAFT_UNATTACHED);
    uint64_t now = sl_raft_next_deadline_ms(raft);
    assert_true(now < UINT64_MAX);
    sl_raft_tick(raft, now);
    assert_int_equal(fake.sent_count, 1);
    assert_int_equal(last_sent()->type, SL_RAFT_MSG_FETCH_REQUEST);
    assert_int_equal(last_sent()->destination_id, 1);
    /* voter 1 follows 2 in epoch 3: it says so, and the observer follows 2 */
    sl_raft_msg_t answer = fetch_answer(1, 4, last_sent()->correlation_id,
                                        SL_RAFT_ERR_NOT_LEADER_OR_FOLLOWER, 2, 3, 0);
    sl_raft_receive(raft, &answer);
    assert_int_equal(sl_raft_role(raft), SL_RAFT_FOLLOWER);
    assert_int_equal(sl_raft_leader_id(raft), 2);
    assert_int_equal(sl_raft_epoch(raft), 3);
    assert_int_equal(last_sent()->type, SL_RAFT_MSG_FETCH_REQUEST);
    assert_int_equal(last_sent()->destination_id, 2);
    /* nothing new: no fetch at once, the next one after the max wait */
    size_t sent = fake.sent_count;
    now += 100;
    sl_raft_tick(raft, now);
    sl_raft_msg_t empty =
        fetch_answer(2, 4, last_sent()->correlation_id, SL_RAFT_ERR_NONE, 2, 3, 0);
    sl_raft_receive(raft, &empty);
    assert_int_equal(fake.sent_count, sent);
    sl_raft_tick(raft, now + 500);
    assert_int_equal(fake.sent_count, sent + 1);
    assert_int_equal(last_sent()->destination_id, 2);
    /* the leader goes quiet: no election (not a voter), the voters are asked again */
    sl_raft_tick(raft, now + 500 + 2000);
    sl_raft_tick(raft, now + 500 + 2000);
    assert_int_equal(sl_raft_role(raft), SL_RAFT_UNATTACHED);
    assert_int_equal(sl_raft_epoch(raft), 3);
    assert_int_equal(last_sent()->type, SL_RAFT_MSG_FETCH_REQUEST);
    assert_int_equal(last_sent()->destination_id, 2); /* the next voter in turn */
    for (size_t i = 0; i < fake.sent_count; i++)
        assert_int_not_equal(fake.sent[i].type, SL_RAFT_MSG_VOTE_REQUEST);
    /* a newer epoch's leader, named by the voter asked, is followed */
    answer =
        fetch_answer(2, 4, last_sent()->correlation_id, SL_RAFT_ERR_FENCED_LEADER_EPOCH, 3, 4, 0);
    sl_raft_receive(raft, &answer);
    assert_int_equal(sl_raft_role(raft), SL_RAFT_FOLLOWER);
    assert_int_equal(sl_raft_leader_id(raft), 3);
    assert_int_equal(sl_raft_epoch(raft), 4);
    sl_raft_destroy(raft);
}

static void test_election_pre_vote_then_vote_then_leader(void **state)
{
    (void)state;
    sl_raft_t *raft = make_node(1, NULL, 0, 0, NULL);
    assert_int_equal(sl_raft_next_deadline_ms(raft), 2000);
    sl_raft_tick(raft, 2000);
    assert_int_equal(sl_raft_role(raft), SL_RAFT_PROSPECTIVE);
    assert_int_equal(fake.sent_count, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(fake.sent[i].type, SL_RAFT_MSG_VOTE_REQUEST);
        assert_true(fake.sent[i].u.vote_request.pre_vote);
        assert_int_equal(fake.sent[i].u.vote_request.replica_epoch, 0);
    }
    assert_int_equal(fake.save_count, 0); /* a pre-vote round persists nothing */

    sl_raft_msg_t grant = reply(&fake.sent[1], SL_RAFT_MSG_VOTE_RESPONSE);
    grant.u.vote_response = (sl_raft_vote_response_t){0, SL_RAFT_NODE_NONE, 0, true};
    forget();
    sl_raft_receive(raft, &grant);
    assert_int_equal(sl_raft_role(raft), SL_RAFT_CANDIDATE);
    assert_int_equal(sl_raft_epoch(raft), 1);
    assert_int_equal(fake.calls[0], 'S'); /* the self-vote is durable before any request */
    assert_int_equal(fake.saved.voted_id, 1);
    assert_false(fake.sent[0].u.vote_request.pre_vote);
    assert_int_equal(fake.sent[0].u.vote_request.replica_epoch, 1);

    sl_raft_msg_t late_pre_grant = grant; /* the pre-vote answer again: not a real vote */
    sl_raft_receive(raft, &late_pre_grant);
    assert_int_equal(sl_raft_role(raft), SL_RAFT_CANDIDATE);

    grant = reply(&fake.sent[0], SL_RAFT_MSG_VOTE_RESPONSE);
    grant.u.vote_response = (sl_raft_vote_response_t){0, SL_RAFT_NODE_NONE, 1, true};
    forget();
    sl_raft_receive(raft, &grant);
    assert_int_equal(sl_raft_role(raft), SL_RAFT_LEADER);
    /* LeaderChange control batch in the new epoch, flushed; BeginQuorumEpoch to both. */
    assert_int_equal(fake.appended_count, 1);
    assert_true(fake.appended[0].control);
    assert_int_equal(fake.appended[0].leader_epoch, 1);
    assert_int_equal(fake.appended[0].base_offset, 0);
    assert_int_equal(fake.flush_end, 1);
    assert_int_equal(fake.sent_count, 2);
    assert_int_equal(fake.sent[0].type, SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_REQUEST);
    assert_int_equal(sl_raft_propose(raft, 3, NULL, NULL), 0);
    sl_raft_destroy(raft);
}

static void test_prospective_follows_a_newer_leader(void **state)
{
    (void)state;
    sl_raft_t *raft = make_node(1, NULL, 0, 0, NULL);
    sl_raft_tick(raft, 2000);
    sl_raft_msg_t begin;
    memset(&begin, 0, sizeof begin);
    begin.type = SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_REQUEST;
    begin.source_id = 3;
    begin.destination_id = 1;
    begin.u.begin_quorum_epoch_request = (sl_raft_begin_quorum_epoch_request_t){3, 7};
    forget();
    sl_raft_receive(raft, &begin);
    assert_int_equal(sl_raft_role(raft), SL_RAFT_FOLLOWER);
    assert_int_equal(sl_raft_leader_id(raft), 3);
    assert_int_equal(sl_raft_epoch(raft), 7);
    assert_int_equal(fake.calls[0], 'S');
    assert_int_equal(fake.saved.leader_id, 3);
    assert_int_equal(fake.sent[0].type, SL_RAFT_MSG_FETCH_REQUEST);
    assert_int_equal(fake.sent[0].destination_id, 3);
    assert_int_equal(sl_raft_propose(raft, 1, NULL, NULL), SL_ENOTLEADER);
    sl_raft_destroy(raft);
}

/* ---- fetch ----------------------------------------------------------------------------------- */

/* Node 1 holds epochs 1 (offsets 0-4) and 3 (5-7), then wins epoch 4 (LeaderChange at 8). */
static sl_raft_t *leader_with_history(uint64_t *now)
{
    static const sl_raft_epoch_entry_t epochs[] = {{1, 0}, {3, 5}};
    sl_raft_quorum_state_t qs = {3, SL_RAFT_NODE_NONE, SL_RAFT_NODE_NONE};
    sl_raft_t *raft = make_node(1, epochs, 2, 8, &qs);
    *now = 1000;
    elect(raft, now);
    assert_int_equal(sl_raft_epoch(raft), 4);
    assert_int_equal(sl_raft_log_end_offset(raft), 9);
    sl_raft_on_log_flushed(raft, 9, 0);
    return raft;
}

static void test_leader_answers_divergence_by_epoch(void **state)
{
    (void)state;
    uint64_t now;
    sl_raft_t *raft = leader_with_history(&now);
    forget();
    /* The follower's last epoch 2 never existed here: the end of epoch 1 (offset 5) is where
     * the logs can still agree. */
    sl_raft_msg_t req = fetch_request(2, 1, 4, 7, 2);
    sl_raft_receive(raft, &req);
    assert_int_equal(last_sent()->u.fetch_response.diverging_epoch, 1);
    assert_int_equal(last_sent()->u.fetch_response.diverging_end_offset, 5);

    /* Epoch 3 ends at 8 here: a follower claiming epoch 3 up to 9 diverges at (3, 8). */
    req = fetch_request(2, 1, 4, 9, 3);
    sl_raft_receive(raft, &req);
    assert_int_equal(last_sent()->u.fetch_response.diverging_epoch, 3);
    assert_int_equal(last_sent()->u.fetch_response.diverging_end_offset, 8);

    /* Consistent: records from 6 on. */
    req = fetch_request(2, 1, 4, 6, 3);
    sl_raft_receive(raft, &req);
    assert_int_equal(last_sent()->u.fetch_response.diverging_epoch, -1);
    assert_int_equal(last_sent()->u.fetch_response.records_offset, 6);
    assert_int_equal(last_sent()->u.fetch_response.records_end_offset, 9);

    /* A fetch from an older epoch is fenced, with the leader named. */
    req = fetch_request(3, 1, 3, 6, 3);
    sl_raft_receive(raft, &req);
    assert_int_equal(last_sent()->u.fetch_response.error_code, SL_RAFT_ERR_FENCED_LEADER_EPOCH);
    assert_int_equal(last_sent()->u.fetch_response.leader_id, 1);
    assert_int_equal(last_sent()->u.fetch_response.leader_epoch, 4);
    sl_raft_destroy(raft);
}

static void test_high_watermark_moves_only_for_current_epoch(void **state)
{
    (void)state;
    uint64_t now;
    sl_raft_t *raft = leader_with_history(&now);
    /* Follower 2 holds the old entries 0-7 but not this epoch's LeaderChange: a majority has
     * offset 8, yet committing epochs 1 and 3 on their own is Raft's figure 8 bug. */
    sl_raft_msg_t req = fetch_request(2, 1, 4, 8, 3);
    sl_raft_receive(raft, &req);
    assert_int_equal(sl_raft_high_watermark(raft), 0);
    req = fetch_request(2, 1, 4, 9, 4);
    sl_raft_receive(raft, &req);
    assert_int_equal(sl_raft_high_watermark(raft), 9);
    assert_int_equal(last_sent()->u.fetch_response.high_watermark, 9);
    sl_raft_destroy(raft);
}

static void test_leader_counts_only_flushed(void **state)
{
    (void)state;
    uint64_t now;
    sl_raft_t *raft = leader_with_history(&now);
    assert_int_equal(sl_raft_propose(raft, 2, NULL, NULL), 0); /* offsets 9-10, not flushed */
    sl_raft_msg_t req = fetch_request(2, 1, 4, 9, 4);
    sl_raft_receive(raft, &req);
    assert_int_equal(sl_raft_high_watermark(raft), 9);
    req = fetch_request(2, 1, 4, 11, 4);
    sl_raft_receive(raft, &req);
    assert_int_equal(sl_raft_high_watermark(raft), 9); /* the leader's own copy is not durable */
    sl_raft_on_log_flushed(raft, 11, 0);
    assert_int_equal(sl_raft_high_watermark(raft), 11);
    sl_raft_destroy(raft);
}

/* Node 2 fetches at the leader's end twice: the second fetch (correlation id 6) is parked. */
static void park_fetch_of_node_2(sl_raft_t *raft)
{
    sl_raft_msg_t req = fetch_request(2, 1, 4, 9, 4);
    sl_raft_receive(raft, &req); /* moves the high watermark: answered */
    forget();
    req.correlation_id = 6;
    sl_raft_receive(raft, &req); /* nothing new: parked */
    assert_int_equal(fake.sent_count, 0);
}

static void test_fetch_waits_for_news(void **state)
{
    (void)state;
    uint64_t now;
    sl_raft_t *raft = leader_with_history(&now);
    park_fetch_of_node_2(raft);
    assert_int_equal(sl_raft_propose(raft, 1, NULL, NULL), 0);
    assert_int_equal(fake.sent_count, 1);
    assert_int_equal(last_sent()->correlation_id, 6);
    assert_int_equal(last_sent()->u.fetch_response.records_offset, 9);
    assert_int_equal(last_sent()->u.fetch_response.records_end_offset, 10);
    sl_raft_destroy(raft);
}

/* A host answering a multi-group Kafka Fetch asks for a parked fetch's answer now. */
static void test_parked_fetch_answered_on_demand(void **state)
{
    (void)state;
    uint64_t now;
    sl_raft_t *raft = leader_with_history(&now);
    park_fetch_of_node_2(raft);
    assert_false(sl_raft_answer_parked_fetch(raft, 3));  /* nothing parked for node 3 */
    assert_false(sl_raft_answer_parked_fetch(raft, 42)); /* not a voter */
    assert_int_equal(fake.sent_count, 0);
    assert_true(sl_raft_answer_parked_fetch(raft, 2));
    assert_int_equal(fake.sent_count, 1);
    assert_int_equal(last_sent()->type, SL_RAFT_MSG_FETCH_RESPONSE);
    assert_int_equal(last_sent()->correlation_id, 6);
    assert_int_equal(last_sent()->u.fetch_response.error_code, SL_RAFT_ERR_NONE);
    assert_int_equal(last_sent()->u.fetch_response.records_offset, 9);
    assert_int_equal(last_sent()->u.fetch_response.records_end_offset, 9); /* nothing to carry */
    assert_false(sl_raft_answer_parked_fetch(raft, 2));                    /* answered once only */
    assert_int_equal(fake.sent_count, 1);
    /* its deadline no longer answers it a second time */
    forget();
    now += 10000;
    sl_raft_tick(raft, now);
    for (size_t i = 0; i < fake.sent_count; i++)
        assert_false(fake.sent[i].type == SL_RAFT_MSG_FETCH_RESPONSE &&
                     fake.sent[i].correlation_id == 6);
    sl_raft_destroy(raft);
}

static sl_raft_msg_t fetch_response_for(const sl_raft_msg_t *req, int32_t leader_epoch)
{
    sl_raft_msg_t resp = reply(req, SL_RAFT_MSG_FETCH_RESPONSE);
    resp.u.fetch_response.leader_id = req->destination_id;
    resp.u.fetch_response.leader_epoch = leader_epoch;
    resp.u.fetch_response.diverging_epoch = -1;
    resp.u.fetch_response.diverging_end_offset = -1;
    return resp;
}

static void test_follower_truncates_at_divergence(void **state)
{
    (void)state;
    static const sl_raft_epoch_entry_t epochs[] = {{1, 0}, {2, 5}};
    sl_raft_quorum_state_t qs = {3, SL_RAFT_NODE_NONE, 2};
    sl_raft_t *raft = make_node(1, epochs, 2, 9, &qs);
    const sl_raft_msg_t fetch = *last_sent();
    assert_int_equal(fetch.u.fetch_request.fetch_offset, 9);
    assert_int_equal(fetch.u.fetch_request.last_fetched_epoch, 2);

    sl_raft_msg_t resp = fetch_response_for(&fetch, 3);
    resp.u.fetch_response.diverging_epoch = 1;
    resp.u.fetch_response.diverging_end_offset = 7; /* the leader's epoch 1 ran longer */
    forget();
    sl_raft_receive(raft, &resp);
    assert_int_equal(fake.truncated_to, 5); /* but ours ended at 5 */
    assert_int_equal(sl_raft_log_end_offset(raft), 5);
    assert_string_equal(fake.calls, "TM");
    assert_int_equal(last_sent()->u.fetch_request.fetch_offset, 5);
    assert_int_equal(last_sent()->u.fetch_request.last_fetched_epoch, 1);

    sl_raft_receive(raft, &resp); /* a duplicate of the answer changes nothing */
    assert_int_equal(sl_raft_log_end_offset(raft), 5);
    sl_raft_destroy(raft);
}

/* /readyz's question: a follower is caught up only once its log reaches the high watermark the
 * leader last reported, which its own high watermark (capped at its log end) cannot tell. */
static void test_follower_caught_up_at_the_leaders_high_watermark(void **state)
{
    (void)state;
    sl_raft_quorum_state_t qs = {2, SL_RAFT_NODE_NONE, 3};
    sl_raft_t *raft = make_node(1, NULL, 0, 0, &qs);
    assert_false(sl_raft_caught_up(raft)); /* the leader has not answered yet */
    sl_raft_batch_t first[] = {{0, 3, 2, false, NULL}};
    sl_raft_msg_t resp = fetch_response_for(last_sent(), 2);
    resp.u.fetch_response.high_watermark = 5;
    resp.u.fetch_response.batches = first;
    resp.u.fetch_response.batch_count = 1;
    sl_raft_receive(raft, &resp);
    assert_int_equal(sl_raft_high_watermark(raft), 3); /* its own: capped at its log end */
    assert_false(sl_raft_caught_up(raft));
    sl_raft_on_log_flushed(raft, 3, 0);
    sl_raft_batch_t rest[] = {{3, 2, 2, false, NULL}};
    resp = fetch_response_for(last_sent(), 2);
    resp.u.fetch_response.high_watermark = 5;
    resp.u.fetch_response.batches = rest;
    resp.u.fetch_response.batch_count = 1;
    sl_raft_receive(raft, &resp);
    assert_true(sl_raft_caught_up(raft));
    sl_raft_destroy(raft);
}

static void test_follower_fetches_only_after_flush(void **state)
{
    (void)state;
    sl_raft_quorum_state_t qs = {2, SL_RAFT_NODE_NONE, 3};
    sl_raft_t *raft = make_node(1, NULL, 0, 0, &qs);
    const sl_raft_msg_t fetch = *last_sent();
    sl_raft_batch_t batches[] = {{0, 2, 1, false, NULL}, {2, 1, 2, true, NULL}};
    sl_raft_msg_t resp = fetch_response_for(&fetch, 2);
    resp.u.fetch_response.high_watermark = 2;
    resp.u.fetch_response.batches = batches;
    resp.u.fetch_response.batch_count = 2;
    forget();
    sl_raft_receive(raft, &resp);
    assert_string_equal(fake.calls, "AF"); /* no fetch before the flush */
    assert_int_equal(sl_raft_high_watermark(raft), 2);
    assert_int_equal(sl_raft_log_end_offset(raft), 3);
    sl_raft_on_log_flushed(raft, 3, 0);
    assert_int_equal(last_sent()->type, SL_RAFT_MSG_FETCH_REQUEST);
    assert_int_equal(last_sent()->u.fetch_request.fetch_offset, 3);
    assert_int_equal(last_sent()->u.fetch_request.last_fetched_epoch, 2);

    /* Batches that do not continue the log (a gap) are dropped, not appended. */
    sl_raft_batch_t gap[] = {{5, 1, 2, false, NULL}};
    resp = fetch_response_for(last_sent(), 2);
    resp.u.fetch_response.batches = gap;
    resp.u.fetch_response.batch_count = 1;
    forget();
    sl_raft_receive(raft, &resp);
    assert_int_equal(fake.appended_count, 0);
    assert_int_equal(sl_raft_log_end_offset(raft), 3);
    sl_raft_destroy(raft);
}

static void test_check_quorum_resigns(void **state)
{
    (void)state;
    uint64_t now;
    sl_raft_t *raft = leader_with_history(&now);
    forget();
    sl_raft_tick(raft, now + 2999);
    assert_int_equal(sl_raft_role(raft), SL_RAFT_LEADER);
    sl_raft_tick(raft, now + 3001); /* no fetch from anyone for 1.5 fetch timeouts */
    assert_int_equal(sl_raft_role(raft), SL_RAFT_RESIGNED);
    size_t end_quorum = 0;
    for (size_t i = 0; i < fake.sent_count; i++)
        if (fake.sent[i].type == SL_RAFT_MSG_END_QUORUM_EPOCH_REQUEST)
            end_quorum++;
    assert_int_equal(end_quorum, 2);
    assert_int_equal(sl_raft_propose(raft, 1, NULL, NULL), SL_ENOTLEADER);
    /* Its answers name no leader, so nobody is sent back to fetch from it. */
    sl_raft_msg_t fetch = fetch_request(2, 1, 4, 9, 4);
    sl_raft_receive(raft, &fetch);
    assert_int_equal(last_sent()->u.fetch_response.error_code, SL_RAFT_ERR_NOT_LEADER_OR_FOLLOWER);
    assert_int_equal(last_sent()->u.fetch_response.leader_id, SL_RAFT_NODE_NONE);
    sl_raft_msg_t pre = vote_request(2, 1, 4, 0, 0, true);
    sl_raft_receive(raft, &pre);
    assert_int_equal(last_sent()->u.vote_response.leader_id, SL_RAFT_NODE_NONE);
    sl_raft_destroy(raft);
}

static void test_leader_ignores_pre_vote_but_hears_stranded_voter(void **state)
{
    (void)state;
    uint64_t now;
    sl_raft_t *raft = leader_with_history(&now);
    /* A pre-vote, even at a higher epoch, does not depose a live leader. */
    sl_raft_msg_t pre = vote_request(3, 1, 6, 4, 100, true);
    sl_raft_receive(raft, &pre);
    assert_false(last_sent()->u.vote_response.vote_granted);
    assert_int_equal(sl_raft_role(raft), SL_RAFT_LEADER);
    assert_int_equal(sl_raft_epoch(raft), 4);

    /* Voter 2 fetches; voter 3 answered BeginQuorumEpoch but then went quiet (it is stuck in
     * epoch 6 after a failed election): it gets BeginQuorumEpoch again. */
    sl_raft_msg_t begin_ack;
    memset(&begin_ack, 0, sizeof begin_ack);
    begin_ack.type = SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_RESPONSE;
    begin_ack.source_id = 3;
    begin_ack.destination_id = 1;
    begin_ack.u.quorum_epoch_response = (sl_raft_quorum_epoch_response_t){0, 1, 4};
    sl_raft_receive(raft, &begin_ack);
    sl_raft_msg_t fetch = fetch_request(2, 1, 4, 9, 4);
    now += 1500;
    sl_raft_tick(raft, now);
    sl_raft_receive(raft, &fetch);
    forget();
    now += 600; /* 2.1 s since voter 3 was last heard of */
    sl_raft_tick(raft, now);
    assert_int_equal(sl_raft_role(raft), SL_RAFT_LEADER);
    assert_int_equal(fake.sent_count, 1);
    assert_int_equal(fake.sent[0].type, SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_REQUEST);
    assert_int_equal(fake.sent[0].destination_id, 3);

    sl_raft_msg_t fenced = reply(&fake.sent[0], SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_RESPONSE);
    fenced.u.quorum_epoch_response =
        (sl_raft_quorum_epoch_response_t){SL_RAFT_ERR_FENCED_LEADER_EPOCH, SL_RAFT_NODE_NONE, 6};
    sl_raft_receive(raft, &fenced);
    assert_int_equal(sl_raft_role(raft), SL_RAFT_UNATTACHED);
    assert_int_equal(sl_raft_epoch(raft), 6);
    assert_int_equal(fake.saved.leader_epoch, 6);
    sl_raft_destroy(raft);
}

static void test_describe_quorum_on_leader(void **state)
{
    (void)state;
    uint64_t now;
    sl_raft_t *raft = leader_with_history(&now);
    now += 10;
    sl_raft_tick(raft, now);
    sl_raft_msg_t req = fetch_request(3, 1, 4, 9, 4);
    sl_raft_receive(raft, &req);
    sl_raft_quorum_info_t info;
    sl_raft_describe_quorum(raft, &info);
    assert_int_equal(info.leader_id, 1);
    assert_int_equal(info.leader_epoch, 4);
    assert_int_equal(info.high_watermark, 9);
    assert_int_equal(info.voter_count, 3);
    assert_int_equal(info.voters[0].replica_id, 1);
    assert_int_equal(info.voters[0].log_end_offset, 9);
    assert_int_equal(info.voters[1].log_end_offset, -1); /* 2 never fetched in this epoch */
    assert_int_equal(info.voters[2].log_end_offset, 9);
    assert_int_equal(info.voters[2].last_fetch_ms, now);
    assert_int_equal(info.voters[2].last_caught_up_ms, now);

    sl_raft_resign(raft); /* only a leader lists the voters */
    sl_raft_describe_quorum(raft, &info);
    assert_int_equal(info.voter_count, 0);
    sl_raft_destroy(raft);
}

static void test_restart_as_leader_resigns(void **state)
{
    (void)state;
    sl_raft_quorum_state_t qs = {6, 1, 1};
    sl_raft_t *raft = make_node(1, NULL, 0, 0, &qs);
    assert_int_equal(sl_raft_role(raft), SL_RAFT_RESIGNED);
    sl_raft_msg_t req = vote_request(2, 1, 6, 0, 0, false);
    sl_raft_receive(raft, &req);
    assert_false(last_sent()->u.vote_response.vote_granted); /* it voted for itself in 6 */
    sl_raft_destroy(raft);
}

static void test_config_rejected(void **state)
{
    (void)state;
    sl_raft_config_t cfg;
    sl_raft_config_default(&cfg, 1);
    sl_raft_t *raft = NULL;
    assert_int_equal(sl_raft_create(&cfg, &fake_env, NULL, NULL, 0, &raft), SL_ECONFIG);
    cfg.voter_count = 2;
    cfg.voters[0] = 1;
    cfg.voters[1] = 1;
    assert_int_equal(sl_raft_create(&cfg, &fake_env, NULL, NULL, 0, &raft), SL_ECONFIG);
    cfg.voters[1] = 2;
    sl_raft_epoch_entry_t bad[] = {{2, 0}, {1, 3}}; /* epochs must ascend */
    sl_raft_log_state_t log = {5, bad, 2};
    assert_int_equal(sl_raft_create(&cfg, &fake_env, NULL, &log, 0, &raft), SL_EMALFORMED);
    assert_null(raft);
}

static void test_epochs_past_the_log_end_are_dropped(void **state)
{
    (void)state;
    /* Epoch 3's entry survived a crash that took its batches: the log ends at 5. */
    static const sl_raft_epoch_entry_t epochs[] = {{1, 0}, {2, 3}, {3, 5}};
    sl_raft_quorum_state_t qs = {3, SL_RAFT_NODE_NONE, 2};
    sl_raft_t *raft = make_node(1, epochs, 3, 5, &qs);
    assert_int_equal(last_sent()->u.fetch_request.fetch_offset, 5);
    assert_int_equal(last_sent()->u.fetch_request.last_fetched_epoch, 2);
    sl_raft_destroy(raft);
}

int main(void)
{
    sl_log_configure(SL_LOG_OFF, SL_LOG_FORMAT_TEXT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vote_granted_once_per_epoch_and_saved_first),
        cmocka_unit_test(test_vote_requires_up_to_date_log),
        cmocka_unit_test(test_stale_vote_rejected_with_current_epoch),
        cmocka_unit_test(test_pre_vote_changes_nothing),
        cmocka_unit_test(test_pre_vote_refused_while_leader_is_live),
        cmocka_unit_test(test_prospective_sent_back_to_a_dead_leader_still_grants),
        cmocka_unit_test(test_observer_finds_and_follows_the_leader),
        cmocka_unit_test(test_election_pre_vote_then_vote_then_leader),
        cmocka_unit_test(test_prospective_follows_a_newer_leader),
        cmocka_unit_test(test_leader_answers_divergence_by_epoch),
        cmocka_unit_test(test_high_watermark_moves_only_for_current_epoch),
        cmocka_unit_test(test_leader_counts_only_flushed),
        cmocka_unit_test(test_fetch_waits_for_news),
        cmocka_unit_test(test_parked_fetch_answered_on_demand),
        cmocka_unit_test(test_follower_truncates_at_divergence),
        cmocka_unit_test(test_follower_caught_up_at_the_leaders_high_watermark),
        cmocka_unit_test(test_follower_fetches_only_after_flush),
        cmocka_unit_test(test_check_quorum_resigns),
        cmocka_unit_test(test_leader_ignores_pre_vote_but_hears_stranded_voter),
        cmocka_unit_test(test_describe_quorum_on_leader),
        cmocka_unit_test(test_restart_as_leader_resigns),
        cmocka_unit_test(test_config_rejected),
        cmocka_unit_test(test_epochs_past_the_log_end_are_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
