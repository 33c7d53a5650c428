"""The group APIs against the reference Kafka 4.0 (kafka_ref), field by field where deterministic
(member ids are random, hosts and ports differ): FindCoordinator (single and batched keys),
the JoinGroup MEMBER_ID_REQUIRED handshake and a full join/sync round, the error answers of
JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch (v1 and multi-group v8),
ListGroups, DescribeGroups, DeleteGroups and OffsetDelete. Groups and topics made on the shared
reference are deleted afterwards. Runtime: about 10 s.

Known difference: FindCoordinator with key type 1 (transaction): Kafka answers with its
transaction coordinator, Sluice (no transactions yet) with COORDINATOR_NOT_AVAILABLE.
"""
import time
import uuid

import pytest

import kproto
from kafka_ref import kafka_ref, start_sluice  # noqa: F401  (session fixture)

FIND_COORDINATOR, JOIN, HEARTBEAT, LEAVE, SYNC = 10, 11, 12, 13, 14
OFFSET_COMMIT, OFFSET_FETCH, DESCRIBE, LIST, DELETE_GROUPS, OFFSET_DELETE = 8, 9, 15, 16, 42, 47
CREATE_TOPICS, DELETE_TOPICS = 19, 20
SUBSCRIPTION = b"\x00\x00\x00\x00\x00\x01\x00\x01t\x00\x00\x00\x00"  # v0: topics ["t"], no data


@pytest.fixture(scope="module")
def sluice(tmp_path_factory):
    b = start_sluice(tmp_path_factory.mktemp("sluice-groups"), auto_create=False)
    yield b
    b.stop()


@pytest.fixture
def both(sluice, kafka_ref):
    """[(name, bootstrap)] for both brokers, a topic 'topic' (2 partitions) on each and a group
    name prefix; deletes the topic and the groups afterwards."""
    prefix = "dg-" + uuid.uuid4().hex[:8]
    topic = prefix + "-t"
    sides = [("sluice", sluice.bootstrap), ("kafka", kafka_ref.bootstrap)]
    for _, bs in sides:
        r = kproto.request(bs, CREATE_TOPICS, 5, {"Topics": [{
            "Name": topic, "NumPartitions": 2, "ReplicationFactor": 1, "Assignments": [],
            "Configs": []}], "TimeoutMs": 30000, "ValidateOnly": False})
        assert r["Topics"][0]["ErrorCode"] == 0, r
        wait_coordinator(bs, prefix)
    yield sides, prefix, topic
    for _, bs in sides:
        groups = [g["GroupId"] for g in kproto.request(bs, LIST, 4, {"StatesFilter": []})["Groups"]
                  if g["GroupId"].startswith(prefix)]
        if groups:
            kproto.request(bs, DELETE_GROUPS, 2, {"GroupsNames": groups})
        kproto.request(bs, DELETE_TOPICS, 5, {"TopicNames": [topic], "TimeoutMs": 30000})


def wait_coordinator(bs, group):
    """Kafka answers COORDINATOR_NOT_AVAILABLE while it creates __consumer_offsets."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = kproto.request(bs, FIND_COORDINATOR, 3, {"Key": group, "KeyType": 0})
        if r["ErrorCode"] == 0:
            return r
        time.sleep(0.2)
    pytest.fail(f"no coordinator on {bs}")


def join(bs, group, member_id="", version=9, protocols=None, session=10000, instance=None,
         ptype="consumer"):
    return kproto.request(bs, JOIN, version, {
        "GroupId": group, "SessionTimeoutMs": session, "RebalanceTimeoutMs": 10000,
        "MemberId": member_id, "GroupInstanceId": instance, "ProtocolType": ptype,
        "Protocols": protocols if protocols is not None else [
            {"Name": "range", "Metadata": SUBSCRIPTION}], "Reason": None})


def both_equal(sides, fn):
    out = {name: fn(bs) for name, bs in sides}
    assert out["sluice"] == out["kafka"], out
    return out["sluice"]


def test_find_coordinator(both):
    sides, prefix, _ = both
    both_equal(sides, lambda bs: {
        v: (lambda r: (r["ErrorCode"], r.get("ErrorMessage"), r["NodeId"]))(
            kproto.request(bs, FIND_COORDINATOR, v, {"Key": prefix + "-a", "KeyType": 0}))
        for v in range(0, 4)})
    both_equal(sides, lambda bs: [
        (c["Key"], c["ErrorCode"], c["ErrorMessage"], c["NodeId"])
        for c in kproto.request(bs, FIND_COORDINATOR, 6, {
            "KeyType": 0, "CoordinatorKeys": [prefix + "-a", prefix + "-b"]})["Coordinators"]])
    r = kproto.request(sides[0][1], FIND_COORDINATOR, 4, {"KeyType": 1, "CoordinatorKeys": ["tx"]})
    assert r["Coordinators"][0]["ErrorCode"] == 15  # COORDINATOR_NOT_AVAILABLE (no transactions)


def test_join_sync_round(both):
    sides, prefix, _ = both
    group = prefix + "-round"

    def round_(bs):
        first = join(bs, group)
        member = first["MemberId"]
        assert member
        second = join(bs, group, member)
        sync = kproto.request(bs, SYNC, 5, {
            "GroupId": group, "GenerationId": second["GenerationId"], "MemberId": member,
            "GroupInstanceId": None, "ProtocolType": "consumer", "ProtocolName": "range",
            "Assignments": [{"MemberId": member, "Assignment": b"abc"}]})
        stale = kproto.request(bs, HEARTBEAT, 4, {"GroupId": group, "GenerationId": 99,
                                                  "MemberId": member, "GroupInstanceId": None})
        ok = kproto.request(bs, HEARTBEAT, 4, {"GroupId": group, "GenerationId": 1,
                                               "MemberId": member, "GroupInstanceId": None})
        desc = kproto.request(bs, DESCRIBE, 5, {"Groups": [group],
                                                "IncludeAuthorizedOperations": False})
        g = desc["Groups"][0]
        leave = kproto.request(bs, LEAVE, 5, {"GroupId": group, "Members": [
            {"MemberId": member, "GroupInstanceId": None, "Reason": None},
            {"MemberId": "nobody", "GroupInstanceId": None, "Reason": None}]})
        after = kproto.request(bs, DESCRIBE, 0, {"Groups": [group]})["Groups"][0]
        return {
            "first": (first["ErrorCode"], first["GenerationId"], first["ProtocolName"],
                      first["Leader"], first["Members"]),
            "second": (second["ErrorCode"], second["GenerationId"], second["ProtocolType"],
                       second["ProtocolName"], second["Leader"] == member,
                       [(m["MemberId"] == member, m["Metadata"]) for m in second["Members"]],
                       second["SkipAssignment"]),
            "sync": (sync["ErrorCode"], sync["ProtocolType"], sync["ProtocolName"],
                     sync["Assignment"]),
            "heartbeats": (stale["ErrorCode"], ok["ErrorCode"]),
            "describe": (g["ErrorCode"], g["GroupState"], g["ProtocolType"], g["ProtocolData"],
                         [(m["ClientId"], m["MemberMetadata"], m["MemberAssignment"])
                          for m in g["Members"]], g["AuthorizedOperations"]),
            "leave": (leave["ErrorCode"], [m["ErrorCode"] for m in leave["Members"]]),
            "after": (after["GroupState"], after["ProtocolType"], after["Members"]),
        }
    both_equal(sides, round_)


def test_join_errors(both):
    sides, prefix, _ = both
    group = prefix + "-errors"

    def errors(bs):
        return {
            "empty id": join(bs, "")["ErrorCode"],
            "session too short": join(bs, group, session=1)["ErrorCode"],
            "session too long": join(bs, group, session=10**9)["ErrorCode"],
            "unknown member": join(bs, group, "ghost")["ErrorCode"],
            "no protocols": join(bs, group, protocols=[])["ErrorCode"],
            "v3 no handshake": (lambda r: (r["ErrorCode"], r["GenerationId"]))(
                join(bs, group + "-v3", version=3)),
        }
    both_equal(sides, errors)


def test_sync_heartbeat_leave_errors(both):
    sides, prefix, _ = both
    group = prefix + "-missing"

    def errors(bs):
        sync = kproto.request(bs, SYNC, 3, {"GroupId": group, "GenerationId": 1,
                                            "MemberId": "m", "GroupInstanceId": None,
                                            "Assignments": []})
        hb = kproto.request(bs, HEARTBEAT, 3, {"GroupId": group, "GenerationId": 1,
                                               "MemberId": "m", "GroupInstanceId": None})
        leave = kproto.request(bs, LEAVE, 1, {"GroupId": group, "MemberId": "m"})
        return sync["ErrorCode"], hb["ErrorCode"], leave["ErrorCode"]
    both_equal(sides, errors)


def test_offsets(both):
    sides, prefix, topic = both
    group = prefix + "-offsets"

    def offsets(bs):
        commit = kproto.request(bs, OFFSET_COMMIT, 8, {
            "GroupId": group, "GenerationIdOrMemberEpoch": -1, "MemberId": "",
            "GroupInstanceId": None, "Topics": [
                {"Name": topic, "Partitions": [
                    {"PartitionIndex": 0, "CommittedOffset": 42, "CommittedLeaderEpoch": 3,
                     "CommittedMetadata": "hello"},
                    {"PartitionIndex": 7, "CommittedOffset": 1, "CommittedLeaderEpoch": -1,
                     "CommittedMetadata": None}]},
                {"Name": prefix + "-nope", "Partitions": [
                    {"PartitionIndex": 0, "CommittedOffset": 1, "CommittedLeaderEpoch": -1,
                     "CommittedMetadata": ""}]}]})
        member = kproto.request(bs, OFFSET_COMMIT, 8, {
            "GroupId": group, "GenerationIdOrMemberEpoch": 4, "MemberId": "someone",
            "GroupInstanceId": None, "Topics": [{"Name": topic, "Partitions": [
                {"PartitionIndex": 1, "CommittedOffset": 1, "CommittedLeaderEpoch": -1,
                 "CommittedMetadata": ""}]}]})
        v1 = kproto.request(bs, OFFSET_FETCH, 1, {"GroupId": group, "Topics": [
            {"Name": topic, "PartitionIndexes": [0, 1]}]})
        v8 = kproto.request(bs, OFFSET_FETCH, 8, {"Groups": [
            {"GroupId": group, "Topics": None},
            {"GroupId": prefix + "-unknown", "Topics": [{"Name": topic, "PartitionIndexes": [0]}]}],
            "RequireStable": False})
        listed = kproto.request(bs, LIST, 4, {"StatesFilter": ["empty"]})
        odel = kproto.request(bs, OFFSET_DELETE, 0, {"GroupId": group, "Topics": [
            {"Name": topic, "Partitions": [{"PartitionIndex": 0}]}]})
        odel_missing = kproto.request(bs, OFFSET_DELETE, 0, {"GroupId": prefix + "-zz",
                                                             "Topics": []})
        after = kproto.request(bs, OFFSET_FETCH, 5, {"GroupId": group, "Topics": None,
                                                     "RequireStable": False})
        dg = kproto.request(bs, DELETE_GROUPS, 2, {"GroupsNames": [group, prefix + "-zz"]})
        return {
            "commit": [(t["Name"] == topic, [(p["PartitionIndex"], p["ErrorCode"])
                                             for p in t["Partitions"]]) for t in commit["Topics"]],
            "member commit": [p["ErrorCode"] for p in member["Topics"][0]["Partitions"]],
            "v1": [(p["PartitionIndex"], p["CommittedOffset"], p["Metadata"], p["ErrorCode"])
                   for p in v1["Topics"][0]["Partitions"]],
            "v8": [(g["GroupId"] == group, g["ErrorCode"],
                    [(t["Name"] == topic, [(p["PartitionIndex"], p["CommittedOffset"],
                                            p["CommittedLeaderEpoch"], p["Metadata"],
                                            p["ErrorCode"]) for p in t["Partitions"]])
                     for t in g["Topics"]]) for g in v8["Groups"]],
            "listed": [(g["ProtocolType"], g["GroupState"]) for g in listed["Groups"]
                       if g["GroupId"] == group],
            "offset delete": (odel["ErrorCode"], [[(p["PartitionIndex"], p["ErrorCode"])
                                                   for p in t["Partitions"]]
                                                  for t in odel["Topics"]],
                              odel_missing["ErrorCode"]),
            "after": after["Topics"],
            "delete groups": [(r["GroupId"] == group, r["ErrorCode"]) for r in dg["Results"]],
        }
    both_equal(sides, offsets)


def test_bad_input(both):
    """Empty group ids, commits to a group that does not exist, too many protocols, and metadata
    that is not a consumer subscription: each API's own error, and the group still works."""
    sides, prefix, topic = both
    group = prefix + "-bad"

    def bad(bs):
        commit = kproto.request(bs, OFFSET_COMMIT, 8, {
            "GroupId": prefix + "-none", "GenerationIdOrMemberEpoch": 3, "MemberId": "m",
            "GroupInstanceId": None, "Topics": [{"Name": topic, "Partitions": [
                {"PartitionIndex": 0, "CommittedOffset": 1, "CommittedLeaderEpoch": -1,
                 "CommittedMetadata": ""}]}]})
        empty_commit = kproto.request(bs, OFFSET_COMMIT, 8, {
            "GroupId": "", "GenerationIdOrMemberEpoch": -1, "MemberId": "",
            "GroupInstanceId": None, "Topics": [{"Name": topic, "Partitions": [
                {"PartitionIndex": 0, "CommittedOffset": 1, "CommittedLeaderEpoch": -1,
                 "CommittedMetadata": ""}]}]})
        fetch = kproto.request(bs, OFFSET_FETCH, 5, {"GroupId": "", "Topics": None,
                                                     "RequireStable": False})
        describe = kproto.request(bs, DESCRIBE, 5, {"Groups": [""],
                                                    "IncludeAuthorizedOperations": False})
        junk = join(bs, group, protocols=[{"Name": "range", "Metadata": b"\xff\x01"}])
        rejoin = join(bs, group, junk["MemberId"],
                      protocols=[{"Name": "range", "Metadata": b"\xff\x01"}])
        odel = kproto.request(bs, OFFSET_DELETE, 0, {"GroupId": group, "Topics": [
            {"Name": topic, "Partitions": [{"PartitionIndex": 0}]}]})
        return {
            "commit to no group": [p["ErrorCode"] for p in commit["Topics"][0]["Partitions"]],
            "empty group commit": [p["ErrorCode"]
                                   for p in empty_commit["Topics"][0]["Partitions"]],
            "empty group fetch": fetch["ErrorCode"],
            "empty group describe": describe["Groups"][0]["ErrorCode"],
            "junk metadata join": (junk["ErrorCode"], rejoin["ErrorCode"],
                                   rejoin["GenerationId"]),
            "offset delete": (odel["ErrorCode"], [p["ErrorCode"] for t in odel["Topics"]
                                                  for p in t["Partitions"]]),
        }
    both_equal(sides, bad)
