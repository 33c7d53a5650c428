/* raft_sim: a deterministic simulator for the Raft core (src/raft), after TigerBeetle's VOPR.
 * N nodes run the real sl_raft_t over a simulated network (delay, loss, duplication, reordering,
 * symmetric and one-way partitions, an isolated leader), disk (flush latency, crashes that lose
 * what was not flushed, fsync failures) and clocks (virtual time, forward jumps), all driven by
 * one seed. After every event it checks Raft's safety properties; after the faults heal it checks
 * that a leader is elected and client writes commit on every node within a bound.
 *
 *   raft_sim --seeds 1000            run seeds 1..1000 (what `make test` does)
 *   raft_sim --seed 42 --trace       replay one seed, printing every event
 *
 * A failing seed prints the command that replays it and the last events before the failure. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/raft.h"

#define NODES_MAX 7
#define TRACE_RING 400
#define CHAIN_SLOTS (1u << 16)

/* ---- seeded randomness ------------------------------------------------------------------------
 */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rng_state;
static uint64_t rnd(uint64_t n) /* [0, n) */
{
    return n == 0 ? 0 : splitmix64(&rng_state) % n;
}
static bool chance(uint32_t per_mille)
{
    return rnd(1000) < per_mille;
}

/* ---- the world --------------------------------------------------------------------------------
 */

typedef struct {
    int32_t epoch;
    uint32_t payload; /* 0: a LeaderChange control batch */
    uint64_t chain;   /* hash of this entry and every entry before it */
} entry_t;

typedef struct {
    sl_raft_t *raft;
    bool up;
    uint32_t incarnation;
    entry_t *log;
    size_t len, cap, durable_len;
    sl_raft_quorum_state_t quorum_state; /* as saved (durable) */
    bool flush_pending;
    size_t flush_issue_len, flush_truncated_to;
    int64_t flush_end;
    uint64_t clock_skew_ms;
    int64_t hw_seen; /* this incarnation's highest high watermark */
    uint64_t rng;
    uint64_t timer_generation;
} node_t;

typedef enum { EV_DELIVER, EV_TICK, EV_FLUSH_DONE, EV_CHAOS, EV_PROPOSE, EV_RESTART } ev_kind_t;

typedef struct {
    sl_raft_msg_t msg;
    sl_raft_batch_t *batches;
    entry_t *entries;
    uint32_t src_incarnation, dst_incarnation;
} flight_t;

typedef struct {
    uint64_t time_ms, seq;
    ev_kind_t kind;
    int node;
    uint64_t generation;
    flight_t *flight;
} event_t;

typedef struct {
    int32_t leader;        /* the node that led this epoch, -1 none seen */
    int64_t committed_end; /* the committed prefix known to nodes in this epoch */
} epoch_info_t;

typedef struct {
    uint64_t seed;
    int n;
    uint64_t now_ms, seq;
    node_t nodes[NODES_MAX];
    bool link_up[NODES_MAX][NODES_MAX];
    event_t *heap;
    size_t heap_len, heap_cap;
    /* faults */
    uint32_t drop_per_mille, dup_per_mille, fsync_fail_per_mille;
    uint64_t delay_max_ms, flush_max_ms, chaos_gap_max_ms, heal_at_ms, deadline_ms;
    uint32_t election_timeout_ms; /* fetch timeout is twice this, as in KRaft's defaults */
    bool healed;
    /* checks */
    epoch_info_t *epochs; /* indexed by epoch */
    size_t epochs_len;
    uint64_t chain_key[CHAIN_SLOTS], chain_val[CHAIN_SLOTS];
    uint64_t *committed_chain;
    uint32_t *committed_payload;
    size_t committed_len, committed_cap;
    uint32_t next_payload;
    int64_t post_heal_offset; /* first proposal after the heal, -1 until made */
    uint32_t post_heal_payload;
    size_t events;
    int handling; /* node whose callbacks are running */
} sim_t;

static sim_t S;
static bool trace_live;
static char trace_ring[TRACE_RING][160];
static size_t trace_next;
static jmp_buf fail_jump;
static char fail_reason[512];

static void trace(const char *fmt, ...) SL_PRINTF(1, 2);
static void trace(const char *fmt, ...)
{
    char *line = trace_ring[trace_next++ % TRACE_RING];
    int n = snprintf(line, 160, "t=%" PRIu64 " ", S.now_ms);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, (size_t)(160 - n), fmt, ap);
    va_end(ap);
    if (trace_live)
        printf("%s\n", line);
}

SL_NORETURN static void fail(const char *fmt, ...) SL_PRINTF(1, 2);
SL_NORETURN static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fail_reason, sizeof fail_reason, fmt, ap);
    va_end(ap);
    longjmp(fail_jump, 1);
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail(__VA_ARGS__);                                                                     \
    } while (0)

static void *xmalloc(size_t size)
{
    void *p = sl_malloc(size);
    if (p == NULL) {
        fprintf(stderr, "raft_sim: out of memory\n");
        exit(2);
    }
    return p;
}

/* ---- event queue (binary heap on time, then insertion order) ----------------------------------
 */

static bool ev_before(const event_t *a, const event_t *b)
{
    return a->time_ms != b->time_ms ? a->time_ms < b->time_ms : a->seq < b->seq;
}

static void schedule(uint64_t at_ms, ev_kind_t kind, int node, uint64_t generation,
                     flight_t *flight)
{
    if (S.heap_len == S.heap_cap) {
        S.heap_cap = S.heap_cap ? S.heap_cap * 2 : 1024;
        event_t *grown = sl_realloc(S.heap, S.heap_cap * sizeof *grown);
        if (grown == NULL)
            exit(2);
        S.heap = grown;
    }
    event_t ev = {at_ms, S.seq++, kind, node, generation, flight};
    size_t i = S.heap_len++;
    while (i > 0 && ev_before(&ev, &S.heap[(i - 1) / 2])) {
        S.heap[i] = S.heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    S.heap[i] = ev;
}

static event_t pop_event(void)
{
    event_t top = S.heap[0];
    event_t last = S.heap[--S.heap_len];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= S.heap_len)
            break;
        if (c + 1 < S.heap_len && ev_before(&S.heap[c + 1], &S.heap[c]))
            c++;
        if (!ev_before(&S.heap[c], &last))
            break;
        S.heap[i] = S.heap[c];
        i = c;
    }
    if (S.heap_len > 0)
        S.heap[i] = last;
    return top;
}

static void flight_free(flight_t *f)
{
    if (f == NULL)
        return;
    sl_free(f->batches);
    sl_free(f->entries);
    sl_free(f);
}

/* ---- log matching: (offset, epoch) names exactly one chain hash -------------------------------
 */

static uint64_t chain_next(uint64_t prev, int32_t epoch, uint32_t payload)
{
    uint64_t st = prev ^ ((uint64_t)(uint32_t)epoch << 32 | payload);
    return splitmix64(&st);
}

static void check_log_matching(int64_t offset, const entry_t *e)
{
    uint64_t key = (uint64_t)offset << 24 ^ (uint64_t)(uint32_t)e->epoch;
    key = key == 0 ? 1 : key;
    uint64_t st = key;
    size_t slot = (size_t)(splitmix64(&st) & (CHAIN_SLOTS - 1));
    for (size_t probes = 0; probes < CHAIN_SLOTS; probes++) {
        if (S.chain_key[slot] == 0) {
            S.chain_key[slot] = key;
            S.chain_val[slot] = e->chain;
            return;
        }
        if (S.chain_key[slot] == key) {
            CHECK(S.chain_val[slot] == e->chain,
                  "log matching: two logs hold epoch %" PRId32 " at offset %" PRId64
                  " with different entries or prefixes",
                  e->epoch, offset);
            return;
        }
        slot = (slot + 1) & (CHAIN_SLOTS - 1);
    }
    fail("simulator: log matching table full");
}

/* ---- the environment each node's core sees -------------------------------------------------- */

static uint64_t local_now(const node_t *nd)
{
    return S.now_ms + nd->clock_skew_ms;
}

static void env_send(void *data, const sl_raft_msg_t *msg)
{
    node_t *src = data;
    int s = (int)(src - S.nodes), d = msg->destination_id;
    CHECK(d >= 0 && d < S.n, "node %d sent to unknown node %d", s, d);
    int copies = chance(S.dup_per_mille) ? 2 : 1;
    if (chance(S.drop_per_mille)) {
        trace("n%d -> n%d %s dropped", s, d, sl_raft_msg_type_name(msg->type));
        return;
    }
    for (int c = 0; c < copies; c++) {
        flight_t *f = xmalloc(sizeof *f);
        memset(f, 0, sizeof *f);
        f->msg = *msg;
        f->src_incarnation = src->incarnation;
        f->dst_incarnation = S.nodes[d].incarnation;
        if (msg->type == SL_RAFT_MSG_FETCH_RESPONSE) {
            sl_raft_fetch_response_t *r = &f->msg.u.fetch_response;
            int64_t from = r->records_offset, to = SL_MIN(r->records_end_offset, (int64_t)src->len);
            int64_t limit = from + 1 + (int64_t)rnd(40); /* the transport's byte limit */
            to = SL_MIN(to, limit);
            size_t count = to > from ? (size_t)(to - from) : 0;
            if (count > 0) {
                f->batches = xmalloc(count * sizeof *f->batches);
                f->entries = xmalloc(count * sizeof *f->entries);
                for (size_t i = 0; i < count; i++) {
                    CHECK(src->log[(size_t)from + i].epoch > 0,
                          "node %d sends an entry it never wrote at %" PRId64
                          " (len %zu from %" PRId64 " to %" PRId64 ")",
                          s, from + (int64_t)i, src->len, from, to);
                    f->entries[i] = src->log[(size_t)from + i];
                    f->batches[i] = (sl_raft_batch_t){.base_offset = from + (int64_t)i,
                                                      .record_count = 1,
                                                      .leader_epoch = f->entries[i].epoch,
                                                      .control = f->entries[i].payload == 0,
                                                      .payload = &f->entries[i].payload};
                }
            }
            r->batches = f->batches;
            r->batch_count = count;
        }
        uint64_t delay = 1 + rnd(S.delay_max_ms);
        if (chance(50))
            delay += rnd(10 * S.delay_max_ms); /* a slow path: reorders */
        schedule(S.now_ms + delay, EV_DELIVER, d, 0, f);
    }
}

static void env_log_append(void *data, const sl_raft_batch_t *batches, size_t batch_count)
{
    node_t *nd = data;
    for (size_t i = 0; i < batch_count; i++) {
        CHECK(batches[i].base_offset == (int64_t)nd->len && batches[i].record_count == 1,
              "node %d: append at %" PRId64 " but log end is %zu", (int)(nd - S.nodes),
              batches[i].base_offset, nd->len);
        if (nd->len == nd->cap) {
            nd->cap = nd->cap ? nd->cap * 2 : 256;
            entry_t *grown = sl_realloc(nd->log, nd->cap * sizeof *grown);
            if (grown == NULL)
                exit(2);
            memset(grown + nd->len, 0, (nd->cap - nd->len) * sizeof *grown);
            nd->log = grown;
        }
        uint32_t payload = batches[i].payload ? *(const uint32_t *)batches[i].payload : 0;
        uint64_t prev = nd->len ? nd->log[nd->len - 1].chain : 0;
        entry_t e = {batches[i].leader_epoch, payload,
                     chain_next(prev, batches[i].leader_epoch, payload)};
        nd->log[nd->len++] = e;
        check_log_matching((int64_t)nd->len - 1, &e);
    }
}

static void env_log_truncate(void *data, int64_t offset)
{
    node_t *nd = data;
    CHECK(offset >= 0 && (size_t)offset <= nd->len, "truncate beyond the log end");
    trace("n%d truncate %zu -> %" PRId64, (int)(nd - S.nodes), nd->len, offset);
    nd->len = (size_t)offset;
    nd->durable_len = SL_MIN(nd->durable_len, nd->len);
    nd->flush_truncated_to = SL_MIN(nd->flush_truncated_to, nd->len);
}

static void env_log_flush(void *data, int64_t end_offset)
{
    node_t *nd = data;
    CHECK(!nd->flush_pending, "node %d: two flushes in flight", (int)(nd - S.nodes));
    nd->flush_pending = true;
    nd->flush_issue_len = nd->len;
    nd->flush_truncated_to = nd->len;
    nd->flush_end = end_offset;
    schedule(S.now_ms + 1 + rnd(S.flush_max_ms), EV_FLUSH_DONE, (int)(nd - S.nodes),
             nd->incarnation, NULL);
}

static void env_quorum_state_save(void *data, const sl_raft_quorum_state_t *state)
{
    node_t *nd = data;
    nd->quorum_state = *state;
}

static uint64_t env_random(void *data)
{
    node_t *nd = data;
    return splitmix64(&nd->rng);
}

/* ---- node lifecycle -----------------------------------------------------------------------------
 */

static void node_start(int i)
{
    node_t *nd = &S.nodes[i];
    sl_raft_config_t cfg;
    sl_raft_config_default(&cfg, i);
    cfg.election_timeout_ms = S.election_timeout_ms;
    cfg.fetch_timeout_ms = 2 * S.election_timeout_ms;
    cfg.voter_count = S.n;
    for (int v = 0; v < S.n; v++)
        cfg.voters[v] = v;
    sl_raft_env_t env = {
        nd,        env_send, env_log_append, env_log_truncate, env_log_flush, env_quorum_state_save,
        env_random};
    sl_raft_epoch_entry_t *epochs = xmalloc((nd->len + 1) * sizeof *epochs);
    size_t epoch_count = 0;
    for (size_t o = 0; o < nd->len; o++)
        if (epoch_count == 0 || nd->log[o].epoch > epochs[epoch_count - 1].leader_epoch)
            epochs[epoch_count++] = (sl_raft_epoch_entry_t){nd->log[o].epoch, (int64_t)o};
    sl_raft_log_state_t log = {(int64_t)nd->len, epochs, epoch_count};
    nd->up = true;
    nd->hw_seen = 0;
    nd->flush_pending = false;
    S.handling = i;
    int rc = sl_raft_create(&cfg, &env, &nd->quorum_state, &log, local_now(nd), &nd->raft);
    sl_free(epochs);
    CHECK(rc == 0, "node %d: sl_raft_create failed: %s", i, sl_strerror(rc));
}

static void node_crash(int i, const char *why)
{
    node_t *nd = &S.nodes[i];
    if (!nd->up)
        return;
    trace("n%d CRASH (%s) log %zu -> durable %zu", i, why, nd->len, nd->durable_len);
    sl_raft_destroy(nd->raft);
    nd->raft = NULL;
    nd->up = false;
    nd->incarnation++;
    nd->len = nd->durable_len; /* what was not flushed is gone */
    nd->flush_pending = false;
    nd->timer_generation++;
}

static void reschedule_tick(int i)
{
    node_t *nd = &S.nodes[i];
    if (!nd->up)
        return;
    uint64_t deadline = sl_raft_next_deadline_ms(nd->raft);
    if (deadline == UINT64_MAX)
        return;
    uint64_t local = local_now(nd);
    uint64_t at = deadline > local ? S.now_ms + (deadline - local) : S.now_ms + 1;
    schedule(at, EV_TICK, i, ++nd->timer_generation, NULL);
}

/* ---- property checks after every event ------------------------------------------------------- */

static epoch_info_t *epoch_info(int32_t epoch)
{
    size_t e = (size_t)epoch;
    if (e >= S.epochs_len) {
        size_t len = e * 2 + 16;
        epoch_info_t *grown = sl_realloc(S.epochs, len * sizeof *grown);
        if (grown == NULL)
            exit(2);
        for (size_t k = S.epochs_len; k < len; k++)
            grown[k] = (epoch_info_t){.leader = -1, .committed_end = 0};
        S.epochs = grown;
        S.epochs_len = len;
    }
    return &S.epochs[e];
}

static void check_committed_prefix(int i, int64_t hw)
{
    node_t *nd = &S.nodes[i];
    CHECK(hw <= (int64_t)nd->len, "node %d: high watermark %" PRId64 " beyond its log end %zu", i,
          hw, nd->len);
    if (hw == 0)
        return;
    size_t h = (size_t)hw;
    if (h <= S.committed_len) {
        CHECK(nd->log[h - 1].chain == S.committed_chain[h - 1],
              "committed entries changed: node %d's log below its high watermark %" PRId64
              " differs from what was committed",
              i, hw);
        return;
    }
    if (S.committed_len > 0)
        CHECK(nd->log[S.committed_len - 1].chain == S.committed_chain[S.committed_len - 1],
              "committed entries changed on node %d", i);
    if (h > S.committed_cap) {
        S.committed_cap = h * 2;
        S.committed_chain = sl_realloc(S.committed_chain, S.committed_cap * sizeof(uint64_t));
        S.committed_payload = sl_realloc(S.committed_payload, S.committed_cap * sizeof(uint32_t));
        if (S.committed_chain == NULL || S.committed_payload == NULL)
            exit(2);
    }
    for (size_t o = S.committed_len; o < h; o++) {
        S.committed_chain[o] = nd->log[o].chain;
        S.committed_payload[o] = nd->log[o].payload;
    }
    S.committed_len = h;
    epoch_info_t *info = epoch_info(sl_raft_epoch(nd->raft));
    info->committed_end = SL_MAX(info->committed_end, (int64_t)h);
}

/* Leader completeness: whatever was committed in an earlier epoch is in this leader's log. */
static size_t committed_before_epoch(int32_t epoch)
{
    int64_t end = 0;
    for (size_t e = 0; e < (size_t)epoch && e < S.epochs_len; e++)
        end = SL_MAX(end, S.epochs[e].committed_end);
    return (size_t)end;
}

static void check_leader(int i)
{
    node_t *nd = &S.nodes[i];
    int32_t epoch = sl_raft_epoch(nd->raft);
    epoch_info_t *info = epoch_info(epoch);
    CHECK(info->leader == -1 || info->leader == i,
          "election safety: nodes %" PRId32 " and %d both led epoch %" PRId32, info->leader, i,
          epoch);
    info->leader = i;
    size_t must_hold = committed_before_epoch(epoch);
    if (must_hold > 0)
        CHECK(nd->len >= must_hold &&
                  nd->log[must_hold - 1].chain == S.committed_chain[must_hold - 1],
              "leader completeness: leader %d of epoch %" PRId32
              " lacks entries committed before it (%zu)",
              i, epoch, must_hold);
}

static void check_properties(void)
{
    for (int i = 0; i < S.n; i++) {
        node_t *nd = &S.nodes[i];
        if (!nd->up)
            continue;
        int64_t hw = sl_raft_high_watermark(nd->raft);
        CHECK(hw >= nd->hw_seen, "node %d: high watermark went back from %" PRId64 " to %" PRId64,
              i, nd->hw_seen, hw);
        nd->hw_seen = hw;
        CHECK(sl_raft_log_end_offset(nd->raft) == (int64_t)nd->len,
              "node %d: the core's log end %" PRId64 " is not the log's %zu", i,
              sl_raft_log_end_offset(nd->raft), nd->len);
        CHECK(nd->durable_len <= nd->len, "node %d: durable %zu beyond log end %zu", i,
              nd->durable_len, nd->len);
        check_committed_prefix(i, hw);
        if (sl_raft_role(nd->raft) == SL_RAFT_LEADER)
            check_leader(i);
    }
    if (S.committed_len == 0)
        return;
    /* Durability: every committed entry survives on a majority even if all nodes crash now. */
    int durable = 0;
    for (int i = 0; i < S.n; i++) {
        node_t *nd = &S.nodes[i];
        if (nd->durable_len >= S.committed_len &&
            nd->log[S.committed_len - 1].chain == S.committed_chain[S.committed_len - 1])
            durable++;
    }
    CHECK(durable >= S.n / 2 + 1,
          "committed entries lost: only %d nodes hold the first %zu durably", durable,
          S.committed_len);
}

/* ---- faults ---------------------------------------------------------------------------------- */

static int current_leader(void)
{
    int best = -1;
    for (int i = 0; i < S.n; i++)
        if (S.nodes[i].up && sl_raft_role(S.nodes[i].raft) == SL_RAFT_LEADER &&
            (best < 0 || sl_raft_epoch(S.nodes[i].raft) > sl_raft_epoch(S.nodes[best].raft)))
            best = i;
    return best;
}

static void set_all_links(bool up)
{
    for (int a = 0; a < S.n; a++)
        for (int b = 0; b < S.n; b++)
            S.link_up[a][b] = up;
}

static void isolate(int i)
{
    for (int o = 0; o < S.n; o++)
        if (o != i)
            S.link_up[i][o] = S.link_up[o][i] = false;
}

static void chaos(void)
{
    uint64_t kind = rnd(100);
    if (kind < 20) {
        int i = (int)rnd((uint64_t)S.n);
        node_crash(i, "chaos");
        schedule(S.now_ms + 100 + rnd(3000), EV_RESTART, i, S.nodes[i].incarnation, NULL);
    } else if (kind < 35) {
        set_all_links(true);
        uint32_t side = (uint32_t)rnd(1u << S.n);
        for (int a = 0; a < S.n; a++)
            for (int b = 0; b < S.n; b++)
                if (((side >> a) & 1) != ((side >> b) & 1))
                    S.link_up[a][b] = false;
        trace("partition %#x", side);
    } else if (kind < 45) {
        int a = (int)rnd((uint64_t)S.n), b = (int)rnd((uint64_t)S.n);
        S.link_up[a][b] = false;
        trace("one-way cut n%d -> n%d", a, b);
    } else if (kind < 55) {
        int leader = current_leader();
        if (leader >= 0) {
            set_all_links(true);
            isolate(leader);
            trace("isolate leader n%d", leader);
        }
    } else if (kind < 65) {
        int i = (int)rnd((uint64_t)S.n);
        uint64_t jump = rnd(5000);
        S.nodes[i].clock_skew_ms += jump;
        trace("n%d clock jumps +%" PRIu64 "ms", i, jump);
        reschedule_tick(i);
    } else if (kind < 80) {
        set_all_links(true);
        trace("network heals");
    } else if (kind < 88) {
        int leader = current_leader();
        if (leader >= 0) {
            trace("n%d resigns (controlled shutdown)", leader);
            sl_raft_resign(S.nodes[leader].raft);
            reschedule_tick(leader);
        }
    }
    /* otherwise: a quiet spell */
}

static void heal(void)
{
    S.healed = true;
    S.drop_per_mille = S.dup_per_mille = S.fsync_fail_per_mille = 0;
    set_all_links(true);
    trace("HEAL: all links up, no more faults");
    for (int i = 0; i < S.n; i++) {
        if (!S.nodes[i].up) {
            trace("n%d restarts at heal", i);
            node_start(i);
            reschedule_tick(i);
        }
    }
}

/* ---- events ------------------------------------------------------------------------------------
 */

static void deliver(flight_t *f, int d)
{
    node_t *dst = &S.nodes[d];
    node_t *src = &S.nodes[f->msg.source_id];
    bool ok = dst->up && dst->incarnation == f->dst_incarnation &&
              src->incarnation == f->src_incarnation && S.link_up[f->msg.source_id][d];
    trace("n%" PRId32 " -> n%d %s corr=%" PRId32 "%s", f->msg.source_id, d,
          sl_raft_msg_type_name(f->msg.type), f->msg.correlation_id, ok ? "" : " (lost)");
    if (ok) {
        sl_raft_tick(dst->raft, local_now(dst));
        sl_raft_receive(dst->raft, &f->msg);
    }
    flight_free(f);
}

static void propose(void)
{
    int leader = current_leader();
    if (leader >= 0) {
        uint32_t payload = ++S.next_payload;
        int64_t offset;
        node_t *nd = &S.nodes[leader];
        sl_raft_tick(nd->raft, local_now(nd));
        if (sl_raft_propose(nd->raft, 1, &payload, &offset) == 0) {
            trace("n%d propose #%" PRIu32 " at %" PRId64, leader, payload, offset);
            if (S.healed && S.post_heal_offset < 0) {
                S.post_heal_offset = offset;
                S.post_heal_payload = payload;
            }
        }
        reschedule_tick(leader);
    }
    schedule(S.now_ms + 20 + rnd(200), EV_PROPOSE, 0, 0, NULL);
}

static void handle(const event_t *ev)
{
    node_t *nd = &S.nodes[ev->node];
    S.handling = ev->node;
    switch (ev->kind) {
    case EV_DELIVER:
        deliver(ev->flight, ev->node);
        break;
    case EV_TICK:
        if (!nd->up || ev->generation != nd->timer_generation)
            return; /* superseded by a later deadline */
        sl_raft_tick(nd->raft, local_now(nd));
        break;
    case EV_FLUSH_DONE:
        if (!nd->up || ev->generation != nd->incarnation || !nd->flush_pending)
            break;
        if (chance(S.fsync_fail_per_mille)) {
            node_crash(ev->node, "fsync failed");
            schedule(S.now_ms + 500 + rnd(2000), EV_RESTART, ev->node, nd->incarnation, NULL);
            break;
        }
        nd->flush_pending = false;
        nd->durable_len =
            SL_MAX(nd->durable_len, SL_MIN(nd->flush_issue_len, nd->flush_truncated_to));
        sl_raft_tick(nd->raft, local_now(nd));
        sl_raft_on_log_flushed(nd->raft, nd->flush_end, 0);
        break;
    case EV_CHAOS:
        if (!S.healed) {
            chaos();
            schedule(S.now_ms + 50 + rnd(S.chaos_gap_max_ms), EV_CHAOS, 0, 0, NULL);
        }
        break;
    case EV_PROPOSE:
        propose();
        break;
    case EV_RESTART:
        if (!nd->up && ev->generation == nd->incarnation && !S.healed) {
            trace("n%d restarts", ev->node);
            node_start(ev->node);
        }
        break;
    }
    if (ev->kind != EV_CHAOS && ev->kind != EV_PROPOSE)
        reschedule_tick(ev->node);
}

/* Liveness after the heal: a proposal made after it is committed on every node. */
static bool settled(void)
{
    if (S.post_heal_offset < 0 || (size_t)S.post_heal_offset >= S.committed_len)
        return false;
    if (S.committed_payload[S.post_heal_offset] != S.post_heal_payload) {
        S.post_heal_offset = -1; /* that one was lost to a leader change: wait for the next */
        return false;
    }
    for (int i = 0; i < S.n; i++)
        if (!S.nodes[i].up || sl_raft_high_watermark(S.nodes[i].raft) <= S.post_heal_offset)
            return false;
    return true;
}

static void sim_reset(uint64_t seed)
{
    for (int i = 0; i < NODES_MAX; i++) {
        sl_raft_destroy(S.nodes[i].raft);
        sl_free(S.nodes[i].log);
    }
    while (S.heap_len > 0)
        flight_free(pop_event().flight);
    sl_free(S.heap);
    sl_free(S.epochs);
    sl_free(S.committed_chain);
    sl_free(S.committed_payload);
    memset(&S, 0, sizeof S);
    S.seed = seed;
    rng_state = seed * 0x2545f4914f6cdd1dull + 1;
    trace_next = 0;
}

/* Returns 0 when every property held, 1 with fail_reason set otherwise. */
static int run_seed(uint64_t seed)
{
    sim_reset(seed);
    if (setjmp(fail_jump) != 0)
        return 1;
    static const int sizes[] = {1, 3, 3, 3, 5, 5, 5, 4, 2};
    S.n = sizes[rnd(SL_ARRAY_LEN(sizes))];
    S.drop_per_mille = (uint32_t)rnd(150);
    S.dup_per_mille = (uint32_t)rnd(100);
    S.fsync_fail_per_mille = chance(300) ? (uint32_t)rnd(20) : 0;
    S.delay_max_ms = 1 + rnd(40);
    S.flush_max_ms = chance(500) ? 1 + rnd(200) : 1 + rnd(15); /* slow disks or fast ones */
    S.chaos_gap_max_ms = chance(500) ? 500 : 1500;
    S.election_timeout_ms = chance(500) ? 500 : 1000;
    S.heal_at_ms = 2000 + rnd(15000);
    S.deadline_ms = S.heal_at_ms + 30000;
    S.post_heal_offset = -1;
    set_all_links(true);
    trace("seed=%" PRIu64 " nodes=%d drop=%" PRIu32 "/1000 dup=%" PRIu32 "/1000 delay<=%" PRIu64
          " flush<=%" PRIu64 " chaos_gap<=%" PRIu64 " election_timeout=%" PRIu32
          " heal_at=%" PRIu64,
          seed, S.n, S.drop_per_mille, S.dup_per_mille, S.delay_max_ms, S.flush_max_ms,
          S.chaos_gap_max_ms, S.election_timeout_ms, S.heal_at_ms);
    for (int i = 0; i < S.n; i++) {
        S.nodes[i].rng = seed ^ ((uint64_t)i << 56) ^ 0x5bd1e995u;
        node_start(i);
        reschedule_tick(i);
    }
    schedule(100 + rnd(1000), EV_CHAOS, 0, 0, NULL);
    schedule(50, EV_PROPOSE, 0, 0, NULL);
    while (S.heap_len > 0) {
        event_t ev = pop_event();
        if (!S.healed && ev.time_ms >= S.heal_at_ms) {
            S.now_ms = S.heal_at_ms;
            heal();
        }
        S.now_ms = ev.time_ms;
        handle(&ev);
        S.events++;
        check_properties();
        if (S.healed && settled())
            return 0;
        CHECK(S.now_ms < S.deadline_ms,
              "liveness: %" PRIu64 " ms after the heal no write committed on every node "
              "(leader n%d)",
              S.now_ms - S.heal_at_ms, current_leader());
    }
    fail("simulator: ran out of events");
}

static const char *self_path = "raft_sim";

static void report_failure(uint64_t seed)
{
    printf("FAIL seed=%" PRIu64 ": %s\n", seed, fail_reason);
    printf("replay: %s --seed %" PRIu64 " --trace\n", self_path, seed);
    printf("last events:\n");
    size_t start = trace_next > TRACE_RING ? trace_next - TRACE_RING : 0;
    for (size_t k = start; k < trace_next; k++)
        printf("  %s\n", trace_ring[k % TRACE_RING]);
}

static void sim_panic(const char *file, int line, const char *expr)
{
    fprintf(stdout, "PANIC seed=%" PRIu64 " at %s:%d: %s\nreplay: %s --seed %" PRIu64 " --trace\n",
            S.seed, file, line, expr, self_path, S.seed);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    uint64_t first = 1, count = 100;
    self_path = argv[0];
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--seeds") == 0 && a + 1 < argc) {
            count = strtoull(argv[++a], NULL, 10);
        } else if (strcmp(argv[a], "--first") == 0 && a + 1 < argc) {
            first = strtoull(argv[++a], NULL, 10);
        } else if (strcmp(argv[a], "--seed") == 0 && a + 1 < argc) {
            first = strtoull(argv[++a], NULL, 10);
            count = 1;
        } else if (strcmp(argv[a], "--trace") == 0) {
            trace_live = true;
        } else {
            fprintf(stderr, "usage: %s [--seeds N] [--first S] [--seed S] [--trace]\n", argv[0]);
            return 2;
        }
    }
    sl_log_configure(trace_live ? SL_LOG_INFO : SL_LOG_OFF, SL_LOG_FORMAT_TEXT);
    sl_panic_hook = sim_panic;
    uint64_t events = 0, max_epoch = 0, committed = 0, heal_ms_total = 0, heal_ms_max = 0;
    for (uint64_t seed = first; seed < first + count; seed++) {
        if (run_seed(seed) != 0) {
            report_failure(seed);
            sim_reset(0);
            return 1;
        }
        events += S.events;
        committed += S.committed_len;
        uint64_t heal_ms = S.now_ms - S.heal_at_ms; /* heal to a write committed everywhere */
        heal_ms_total += heal_ms;
        heal_ms_max = SL_MAX(heal_ms_max, heal_ms);
        for (int i = 0; i < S.n; i++)
            if (S.nodes[i].up)
                max_epoch = SL_MAX(max_epoch, (uint64_t)sl_raft_epoch(S.nodes[i].raft));
    }
    printf("raft_sim: %" PRIu64 " seeds passed (%" PRIu64 " events, %" PRIu64
           " committed entries, highest epoch %" PRIu64
           "; heal to a write committed on every node: "
           "mean %" PRIu64 " ms, max %" PRIu64 " ms simulated)\n",
           count, events, committed, max_epoch, count ? heal_ms_total / count : 0, heal_ms_max);
    sim_reset(0);
    return 0;
}
