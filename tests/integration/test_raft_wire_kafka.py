"""Sluice's Raft wire mapping (src/replication/raft_wire.c) against Apache Kafka 4.0's own code.

Both directions, with real bytes and no Sluice process:
- Kafka reads what Sluice sends: build/release/.../raft_wire_exchange emit writes the Vote v2
  (pre-vote), BeginQuorumEpoch, EndQuorumEpoch, Fetch v17, their answers and a DescribeQuorum v2
  answer as raft_wire builds them; java/src/RaftWireProbe.java parses each with kafka-clients'
  generated message class for that version, checks every record batch of the Fetch answer (CRC,
  each record) and prints Kafka's JSON of it, which is compared here field by field.
- Sluice reads what Kafka sends: the probe writes the same messages as Kafka 4.0's
  KafkaRaftClient builds them (__cluster_metadata by Uuid.METADATA_TOPIC_ID in Fetch v17,
  LeaderEndpoints, PreferredCandidates, NodeEndpoints, a LeaderChange control batch from
  MemoryRecords), and raft_wire_exchange check decodes them into the core's messages and compares.

The jars come from build/kafka-libs (scripts/install-deps); their absence fails the tests.
"""
import json
import os
import subprocess

import pytest

from kafka_ref import ROOT, java_cmd, require_libs

EXCHANGE = os.path.join(ROOT, "build", "release", "tests", "unit", "replication",
                        "raft_wire_exchange")
PROBE_SRC = os.path.join(ROOT, "tests", "integration", "java", "src", "RaftWireProbe.java")
METADATA_TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAQ"  # Kafka's Uuid.METADATA_TOPIC_ID
CLUSTER = "MkU3OEVBNTcwNTJENDM2Qg"


@pytest.fixture(scope="module")
def probe_classes(tmp_path_factory):
    cp = require_libs()
    assert os.path.exists(EXCHANGE), f"{EXCHANGE} missing: run make build"
    out = str(tmp_path_factory.mktemp("raft-wire-probe"))
    r = subprocess.run(["javac", "-nowarn", "-cp", cp, "-d", out, PROBE_SRC],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    return out


def probe(classes, *args):
    cmd = java_cmd("RaftWireProbe", *args)
    i = cmd.index("-cp") + 1
    cmd[i] = classes + os.pathsep + cmd[i]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def only_partition(message, topics="topics"):
    assert len(message[topics]) == 1
    assert len(message[topics][0]["partitions"]) == 1
    return message[topics][0], message[topics][0]["partitions"][0]


def test_kafka_reads_what_sluice_sends(tmp_path, probe_classes):
    r = subprocess.run([EXCHANGE, "emit", str(tmp_path)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    read = {}
    for line in probe(probe_classes, "read", str(tmp_path)).splitlines():
        entry = json.loads(line)
        read[entry["file"]] = entry
    assert sorted(read) == sorted(os.listdir(tmp_path))

    vote = read["vote_request_v2.bin"]["message"]
    assert vote["clusterId"] == CLUSTER and vote["voterId"] == 3
    topic, p = only_partition(vote)
    assert topic["topicName"] == "__cluster_metadata"
    assert (p["replicaEpoch"], p["replicaId"], p["lastOffsetEpoch"], p["lastOffset"],
            p["preVote"]) == (5, 2, 4, 100, True)

    _, p = only_partition(read["begin_quorum_epoch_request_v0.bin"]["message"])
    assert (p["leaderId"], p["leaderEpoch"]) == (2, 6)
    _, p = only_partition(read["end_quorum_epoch_request_v0.bin"]["message"])
    assert p["preferredSuccessors"] == [3, 1]
    _, p = only_partition(read["end_quorum_epoch_request_v1.bin"]["message"])
    assert [c["candidateId"] for c in p["preferredCandidates"]] == [3, 1]

    fetch = read["fetch_request_v17.bin"]["message"]
    assert fetch["clusterId"] == CLUSTER
    assert fetch["replicaState"] == {"replicaId": 2, "replicaEpoch": -1}
    assert fetch["maxBytes"] == 8 * 1024 * 1024 and fetch["maxWaitMs"] == 500
    assert [t["topicId"] for t in fetch["topics"]] == [METADATA_TOPIC_ID, "ESIzRAUGBwgJCgsMDQ4PEA"]
    p = fetch["topics"][0]["partitions"][0]
    assert (p["partition"], p["currentLeaderEpoch"], p["fetchOffset"],
            p["lastFetchedEpoch"]) == (0, 5, 100, 4)

    answer = read["fetch_response_v17.bin"]
    topics = answer["message"]["responses"]
    assert topics[0]["topicId"] == METADATA_TOPIC_ID
    p = topics[0]["partitions"][0]
    assert p["errorCode"] == 0 and p["highWatermark"] == 4
    assert p["currentLeader"] == {"leaderId": 1, "leaderEpoch": 2}
    assert "divergingEpoch" not in p  # left at its default: the tag is not written
    assert topics[1]["partitions"][0]["divergingEpoch"] == {"epoch": 5, "endOffset": 12}
    # Kafka checked each batch's CRC and read every record of it
    assert answer["batches"] == [
        {"baseOffset": 0, "lastOffset": 0, "epoch": 1, "control": True, "records": 1},
        {"baseOffset": 1, "lastOffset": 3, "epoch": 1, "control": False, "records": 3},
        {"baseOffset": 4, "lastOffset": 5, "epoch": 2, "control": False, "records": 2},
    ]

    _, p = only_partition(read["vote_response_v2.bin"]["message"])
    assert (p["errorCode"], p["leaderId"], p["leaderEpoch"], p["voteGranted"]) == (0, -1, 5, True)
    _, p = only_partition(read["begin_quorum_epoch_response_v1.bin"]["message"])
    assert (p["errorCode"], p["leaderId"], p["leaderEpoch"]) == (74, 2, 6)

    quorum = read["describe_quorum_response_v2.bin"]["message"]
    assert quorum["errorCode"] == 0 and quorum["errorMessage"] is None
    _, p = only_partition(quorum)
    assert (p["leaderId"], p["leaderEpoch"], p["highWatermark"]) == (1, 2, 6)
    assert [(v["replicaId"], v["logEndOffset"], v["lastFetchTimestamp"])
            for v in p["currentVoters"]] == [(1, 6, 1700000010000), (2, 6, 1700000008500),
                                             (3, -1, -1)]
    assert quorum["nodes"] == [{"nodeId": 1, "listeners": [
        {"name": "CONTROLLER", "host": "127.0.0.11", "port": 9093}]}]


def test_sluice_reads_what_kafka_sends(tmp_path, probe_classes):
    probe(probe_classes, "write", str(tmp_path))
    r = subprocess.run([EXCHANGE, "check", str(tmp_path)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(line.split()[1] for line in r.stdout.splitlines()) == sorted(
        os.listdir(tmp_path))
