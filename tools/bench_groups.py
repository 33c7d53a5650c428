# bench_groups.py BOOTSTRAP: consumer-group numbers for docs/performance.md. The time from a member
# leaving to every other member holding its new assignment (N confluent-kafka members in one process,
# eager range assignor, heartbeat.interval.ms=100), and OffsetCommit throughput (kproto, one request
# in flight per connection; every commit waits for its fdatasync).
import os, sys, time, threading, uuid
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'integration'))
import kproto
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic
bs = sys.argv[1]
def topic(n):
    name = "bench-" + uuid.uuid4().hex[:8]
    admin = AdminClient({"bootstrap.servers": bs})
    for f in admin.create_topics([NewTopic(name, n, 1)]).values():
        f.result()
    return name
def rebalance(n):
    t = topic(n * 2)
    group = "bench-" + uuid.uuid4().hex[:8]
    state = [dict(owned=set(), assigned_at=0.0) for _ in range(n)]
    cs = []
    for i in range(n):
        def on_assign(c, parts, i=i):
            state[i]["owned"] = {p.partition for p in parts}; state[i]["assigned_at"] = time.monotonic()
        def on_revoke(c, parts, i=i):
            state[i]["owned"] = set()
        c = Consumer({"bootstrap.servers": bs, "group.id": group, "heartbeat.interval.ms": 100,
                      "session.timeout.ms": 6000})
        c.subscribe([t], on_assign=on_assign, on_revoke=on_revoke)
        cs.append(c)
    deadline = time.monotonic() + 120
    while sum(len(s["owned"]) for s in state) != 2 * n or any(not s["owned"] for s in state):
        for c in cs: c.poll(0.01)
        assert time.monotonic() < deadline
    t0 = time.monotonic()
    cs[0].close()
    rest = list(range(1, n))
    while not (sum(len(state[i]["owned"]) for i in rest) == 2 * n and all(state[i]["assigned_at"] > t0 for i in rest)):
        for i in rest: cs[i].poll(0.01)
        assert time.monotonic() < deadline
    took = max(state[i]["assigned_at"] for i in rest) - t0
    for i in rest: cs[i].close()
    return took
def commits(conns, seconds=3.0):
    t = topic(1)
    count = [0]
    def run(k):
        c = kproto.Connection(bs)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            c.request(8, 8, {"GroupId": f"bc-{k}", "GenerationIdOrMemberEpoch": -1, "MemberId": "",
                "GroupInstanceId": None, "Topics": [{"Name": t, "Partitions": [{"PartitionIndex": 0,
                "CommittedOffset": count[0], "CommittedLeaderEpoch": -1, "CommittedMetadata": ""}]}]})
            count[0] += 1
    ths = [threading.Thread(target=run, args=(k,)) for k in range(conns)]
    for th in ths: th.start()
    for th in ths: th.join()
    return count[0] / seconds
for n in (3, 30):
    print(f"rebalance after leave, {n} members: {rebalance(n)*1000:.0f} ms")
for conns in (1, 16):
    print(f"offset commits/s, {conns} client(s), one request each at a time: {commits(conns):.0f}")
