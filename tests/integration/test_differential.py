"""Differential tests: the same requests to Sluice and to the reference Apache Kafka 4.0.0, the
decoded answers compared field by field.

Ignored because they must differ: node ids, hosts, ports, cluster ids, throttle times, topic ids
and the finalized-features epoch. Compared only for the APIs Sluice advertises: the ApiVersions
entries. Sluice advertises Kafka 3.9.0's exact ranges; where Kafka 4.0 differs from 3.9, the
difference is recorded below (and in docs/compatibility.md) with its reason, and the reference's
answer is checked against that record before it is compared.

Both brokers run with topic auto-creation off, so a named topic stays unknown in both.
"""
import struct
import uuid

import pytest

import kproto
from kafka_ref import kafka_ref, start_sluice  # noqa: F401  (session fixture)

APIVERSIONS, METADATA = 18, 3
UNKNOWN_TOPIC_OR_PARTITION, UNSUPPORTED_VERSION, INVALID_REQUEST = 3, 35, 42
UNKNOWN_TOPIC = "sluice-differential-unknown-topic"

# ---------------------------------------------------------------------------------------------
# Deliberate differences between Kafka 4.0.0's advertised ranges and Kafka 3.9.0's (= Sluice's).
# test_reference_ranges_match_the_record checks that the real Kafka 4.0.0 matches this record
# exactly, so the table cannot go stale silently.

# KIP-896: Kafka 4.0 removed old versions; Sluice keeps them for old clients (librdkafka 2.0.2,
# kafka-python 2.0.2, kafkajs 2.2.4 send some of them). api key -> Kafka 4.0 minimum.
KIP896_MIN_RAISED = {1: 4, 2: 1, 8: 2, 9: 1, 11: 2, 19: 2, 20: 1, 23: 2, 27: 1, 29: 1, 30: 1,
                     31: 1, 32: 1, 34: 1, 35: 1, 38: 1, 39: 1, 40: 1, 41: 1}
# Versions added in Kafka 4.0 that are not in the 3.9 schemas Sluice is generated from.
# api key -> Kafka 4.0 maximum.
NEW_IN_40_MAX = {0: 12, 2: 10, 3: 13, 15: 6, 26: 5, 28: 5, 57: 2, 60: 2, 68: 1, 69: 1}
# In the 3.9 schemas but not advertised by Kafka 4.0 on its client listener.
NOT_ADVERTISED_BY_40 = {
    **dict.fromkeys([4, 5, 6, 7], "ZooKeeper-era broker-to-broker API, removed with ZooKeeper"),
    **dict.fromkeys([52, 53, 54, 56, 58, 59, 62, 63, 67, 70, 73, 82],
                    "KRaft controller/inter-broker API, served on the controller listener only"),
    **dict.fromkeys([71, 72], "client telemetry (KIP-714), advertised only with a telemetry "
                    "metrics reporter configured"),
    **dict.fromkeys([76, 77, 78, 79, 83, 84, 85, 86, 87],
                    "share groups (KIP-932), unstable and off by default"),
}


def kafka39_range(key):
    m = kproto.schema(key, "request").valid
    return (m.lo, m.hi)


# Where Sluice deliberately advertises other than Kafka 3.9.0 (CLIENTS.md §5, "Decided for
# Sluice"; docs/compatibility.md): Fetch v0-3 can only carry magic 0/1 batches, which Sluice does
# not store, so Fetch starts at v4 as in Kafka 4.0.
SLUICE_RANGE_DIFFERENCES = {1: (4, 17)}


def sluice_expected_range(key):
    return SLUICE_RANGE_DIFFERENCES.get(key, kafka39_range(key))


def expected_kafka40_range(key):
    """What Kafka 4.0.0 advertises for a key of the 3.9 schemas, per the record above."""
    if key in NOT_ADVERTISED_BY_40:
        return None
    lo, hi = kafka39_range(key)
    return (KIP896_MIN_RAISED.get(key, lo), NEW_IN_40_MAX.get(key, hi))


# ---------------------------------------------------------------------------------------------
# Fixtures and helpers


@pytest.fixture(scope="module")
def sluice(tmp_path_factory):
    """One Sluice for this module, auto-creation off like the reference."""
    b = start_sluice(tmp_path_factory.mktemp("sluice-differential"), auto_create=False)
    yield b
    b.stop()


def api_versions(bootstrap, version=3, name="kproto", software_version="1.0"):
    return kproto.request(bootstrap, APIVERSIONS, version,
                          {"ClientSoftwareName": name, "ClientSoftwareVersion": software_version})


def ranges(body):
    return {e["ApiKey"]: (e["MinVersion"], e["MaxVersion"]) for e in body["ApiKeys"]}


@pytest.fixture(scope="module")
def sluice_ranges(sluice):
    body = api_versions(sluice.bootstrap)
    assert body["ErrorCode"] == 0
    return ranges(body)


IGNORED = "<ignored: must differ>"


def normalize_metadata(body):
    """Blanks what must differ between two brokers, keeping each field's presence."""
    out = dict(body)
    for f in ("ThrottleTimeMs", "ClusterId", "ControllerId"):
        if f in out:
            out[f] = IGNORED
    out["Brokers"] = [{k: (IGNORED if k in ("NodeId", "Host", "Port") else v) for k, v in b.items()}
                      for b in body["Brokers"]]
    # Kafka does not keep the request's topic order (it goes through a set): compare sorted.
    # Internal topics (__consumer_offsets, made on the shared reference by any test whose client
    # looked up a group coordinator) are not part of what these tests compare.
    topics = [{k: (IGNORED if k == "TopicId" else v) for k, v in t.items()} for t in body["Topics"]
              if not (t["Name"] or "").startswith("__")]
    out["Topics"] = sorted(topics, key=lambda t: t["Name"] or "")
    return out


def check_self_consistent_metadata(body, broker_host, broker_port, version):
    """What can't be compared across brokers is checked against each broker's own facts."""
    assert len(body["Brokers"]) == 1, body
    b = body["Brokers"][0]
    assert (b["Host"], b["Port"]) == (broker_host, broker_port), body
    if version >= 1:
        assert body["ControllerId"] == b["NodeId"], body  # single node: it is the controller
    if version >= 2:
        cid = body["ClusterId"]
        assert isinstance(cid, str) and cid, body
    for t in body["Topics"]:
        # An unknown name has no id; a lookup by id echoes the id asked for (Kafka does).
        if "TopicId" in t and t["ErrorCode"] != 0 and t["Name"]:
            assert t["TopicId"] == kproto.ZERO_UUID, t


def metadata_both(sluice, kafka, version, fields):
    got = {}
    for name, target in (("sluice", sluice), ("kafka", kafka)):
        body = kproto.request(target.bootstrap, METADATA, version, fields)
        check_self_consistent_metadata(body, target.host, target.port, version)
        got[name] = body
    return got["sluice"], got["kafka"]


# ---------------------------------------------------------------------------------------------
# ApiVersions


def test_reference_ranges_match_the_record(kafka_ref):
    """Kafka 4.0.0 advertises exactly what the table of deliberate differences says."""
    kafka = ranges(api_versions(kafka_ref.bootstrap))
    keys39 = {k for (k, kind) in kproto._schemas if kind == "request"}
    expected = {k: expected_kafka40_range(k) for k in keys39}
    expected = {k: r for k, r in expected.items() if r is not None}
    assert kafka == expected


def test_sluice_advertises_kafka39_ranges(sluice_ranges):
    """Every API Sluice advertises has Kafka 3.9.0's exact range; it has ApiVersions and Metadata."""
    assert {APIVERSIONS, METADATA} <= set(sluice_ranges)
    for key, rng in sluice_ranges.items():
        assert rng == sluice_expected_range(key), (kproto.api_name(key), rng)
    assert sluice_ranges[APIVERSIONS] == (0, 4)
    assert sluice_ranges[METADATA] == (0, 12)


def compare_api_versions(s, k, sluice_ranges):
    """Compares an ApiVersions body field by field, as described in the module docstring."""
    assert s["ErrorCode"] == k["ErrorCode"]
    s_ranges, k_ranges = ranges(s), ranges(k)
    assert len(s_ranges) == len(s["ApiKeys"]), "duplicate api keys from Sluice"
    assert set(s_ranges) == set(sluice_ranges)
    for key, rng in s_ranges.items():
        assert k_ranges.get(key) == expected_kafka40_range(key)
        assert rng == sluice_expected_range(key)
    assert set(s) - {"_tags"} == set(k) - {"_tags"}, "different fields present"
    if "ZkMigrationReady" in s:
        assert s["ZkMigrationReady"] == k["ZkMigrationReady"]
    check_features(s, k)


def check_features(s, k):
    """KRaft feature levels (v3+ tagged fields): Sluice may advertise none in this step (recorded
    in docs/compatibility.md); whatever it advertises must be a feature Kafka knows, with the
    finalized level inside the supported range."""
    if "SupportedFeatures" not in s:
        return
    known = {f["Name"] for f in k["SupportedFeatures"]}
    supported = {f["Name"]: (f["MinVersion"], f["MaxVersion"]) for f in s["SupportedFeatures"]}
    assert set(supported) <= known, supported
    for f in s["FinalizedFeatures"]:
        lo, hi = supported[f["Name"]]
        assert lo <= f["MinVersionLevel"] <= f["MaxVersionLevel"] <= hi, f
    if not s["FinalizedFeatures"]:
        assert s["FinalizedFeaturesEpoch"] == -1


@pytest.mark.parametrize("version", range(0, 5))
def test_api_versions_each_version(sluice, kafka_ref, sluice_ranges, version):
    s = api_versions(sluice.bootstrap, version)
    k = api_versions(kafka_ref.bootstrap, version)
    assert s["ErrorCode"] == 0
    compare_api_versions(s, k, sluice_ranges)


@pytest.mark.parametrize("version", [3, 4])
@pytest.mark.parametrize("name,software_version", [
    ("!!bad", "1.0"), ("kproto", "!!bad"), ("", ""), ("-leading-dash", "1"),
])
def test_api_versions_invalid_client_software(sluice, kafka_ref, version, name, software_version):
    """v3+ names must match [a-zA-Z0-9](?:[a-zA-Z0-9\\-.]*[a-zA-Z0-9])?: else INVALID_REQUEST."""
    s = api_versions(sluice.bootstrap, version, name, software_version)
    k = api_versions(kafka_ref.bootstrap, version, name, software_version)
    assert k["ErrorCode"] == INVALID_REQUEST
    assert s["ErrorCode"] == INVALID_REQUEST
    assert s["ApiKeys"] == k["ApiKeys"] == []


@pytest.mark.parametrize("name,software_version", [("a", "1"), ("a-b.c", "x"), ("librdkafka", "2.0.2")])
def test_api_versions_valid_client_software(sluice, kafka_ref, sluice_ranges, name, software_version):
    s = api_versions(sluice.bootstrap, 3, name, software_version)
    k = api_versions(kafka_ref.bootstrap, 3, name, software_version)
    assert s["ErrorCode"] == k["ErrorCode"] == 0
    compare_api_versions(s, k, sluice_ranges)


@pytest.mark.parametrize("version", [5, 7, 0x7FFF])
def test_api_versions_too_new(sluice, kafka_ref, version):
    """A version above the maximum: UNSUPPORTED_VERSION in a v0 body with header v0, listing only
    ApiVersions' own range, and the connection stays open."""
    answers = []
    for target in (sluice, kafka_ref):
        with kproto.Connection(target.bootstrap) as c:
            c.send_raw(kproto.encode_request(APIVERSIONS, version, {"ClientSoftwareName": "kproto",
                       "ClientSoftwareVersion": "1"}, correlation_id=77, body_version=4))
            answers.append(c.recv_frame())
            # Still open: a well-formed v0 request on the same connection gets its answer.
            header, body = c.request(APIVERSIONS, 0)
            assert body["ErrorCode"] == 0
    s, k = answers
    expected = struct.pack(">ihihhh", 77, UNSUPPORTED_VERSION, 1, APIVERSIONS, 0, 4)
    assert k == expected
    assert s == expected


def test_pipelined_api_versions_and_metadata_v0(sluice, kafka_ref):
    """kafka-python's probe: ApiVersions v0 and Metadata v0 back to back, answered in order."""
    for target in (sluice, kafka_ref):
        with kproto.Connection(target.bootstrap) as c:
            c.send_raw(kproto.encode_request(APIVERSIONS, 0, {}, correlation_id=11))
            c.send_raw(kproto.encode_request(METADATA, 0, {"Topics": []}, correlation_id=12))
            h1, b1 = kproto.decode_response(APIVERSIONS, 0, c.recv_frame())
            h2, b2 = kproto.decode_response(METADATA, 0, c.recv_frame())
            assert (h1["CorrelationId"], h2["CorrelationId"]) == (11, 12)
            assert b1["ErrorCode"] == 0 and b1["ApiKeys"]
            assert [b["Port"] for b in b2["Brokers"]] == [target.port]


# ---------------------------------------------------------------------------------------------
# Metadata


def topics_cases(version):
    """(case id, request fields) for the topic selections each version allows."""
    cases = []
    if version == 0:
        cases.append(("empty-means-all", {"Topics": []}))
    else:
        cases.append(("null-means-all", {"Topics": None}))
        cases.append(("empty-means-none", {"Topics": []}))
    named = {"Topics": [{"Name": UNKNOWN_TOPIC}]}
    if version >= 4:
        cases.append(("unknown-no-autocreate", {**named, "AllowAutoTopicCreation": False}))
        cases.append(("unknown-autocreate-requested", {**named, "AllowAutoTopicCreation": True}))
    else:
        cases.append(("unknown", named))  # v0-3 imply auto-creation; it is off on both brokers
    cases.append(("two-unknown", {"Topics": [{"Name": UNKNOWN_TOPIC + "-a"},
                                             {"Name": UNKNOWN_TOPIC + "-b"}],
                                  **({"AllowAutoTopicCreation": False} if version >= 4 else {})}))
    return cases


METADATA_CASES = [(v, cid, fields) for v in range(0, 13) for cid, fields in topics_cases(v)]


@pytest.mark.parametrize("version,fields", [(v, f) for v, _, f in METADATA_CASES],
                         ids=[f"v{v}-{cid}" for v, cid, _ in METADATA_CASES])
def test_metadata(sluice, kafka_ref, version, fields):
    s, k = metadata_both(sluice, kafka_ref, version, fields)
    assert normalize_metadata(s) == normalize_metadata(k)
    # The comparison is only as good as what the reference said; pin that down too.
    requested = [t["Name"] for t in fields["Topics"] or []]
    if requested:
        assert sorted(t["Name"] for t in k["Topics"]) == sorted(requested)
        assert all(t["ErrorCode"] == UNKNOWN_TOPIC_OR_PARTITION for t in k["Topics"])
        assert all(t["Partitions"] == [] for t in k["Topics"])
    else:  # the reference has no user topics (internal ones aside, see normalize_metadata)
        assert [t for t in k["Topics"] if not (t["Name"] or "").startswith("__")] == []


INVALID_TOPIC_EXCEPTION = 17
INVALID_NAMES = ["bad name!", "", ".", "..", "a" * 250, "tab\tname", "slash/name"]


@pytest.mark.parametrize("version", [0, 1, 4, 9, 12])
def test_metadata_invalid_topic_names(sluice, kafka_ref, version):
    """Names Kafka rejects (empty, "." / "..", > 249 chars, characters outside [a-zA-Z0-9._-])."""
    fields = {"Topics": [{"Name": n} for n in INVALID_NAMES]}
    if version >= 4:
        fields["AllowAutoTopicCreation"] = False
    s, k = metadata_both(sluice, kafka_ref, version, fields)
    assert sorted((t["Name"], t["ErrorCode"]) for t in k["Topics"]) == \
        sorted((n, INVALID_TOPIC_EXCEPTION) for n in INVALID_NAMES)
    assert normalize_metadata(s) == normalize_metadata(k)


@pytest.mark.parametrize("version", [0, 4, 12])
def test_metadata_duplicate_topic_names(sluice, kafka_ref, version):
    """Kafka collects the requested names into a set: a name asked twice is answered once."""
    fields = {"Topics": [{"Name": UNKNOWN_TOPIC}, {"Name": UNKNOWN_TOPIC}, {"Name": "dup-b"}]}
    if version >= 4:
        fields["AllowAutoTopicCreation"] = False
    s, k = metadata_both(sluice, kafka_ref, version, fields)
    assert sorted(t["Name"] for t in k["Topics"]) == sorted(["dup-b", UNKNOWN_TOPIC])
    assert sorted(t["Name"] for t in s["Topics"]) == sorted(["dup-b", UNKNOWN_TOPIC])
    assert normalize_metadata(s) == normalize_metadata(k)


def test_metadata_reports_configured_node_id(sluice):
    body = kproto.request(sluice.bootstrap, METADATA, 12, {"Topics": None})
    assert [b["NodeId"] for b in body["Brokers"]] == [1]  # node.id: 1 in the test config
    assert body["ControllerId"] == 1
    # Stable across connections (a fixed cluster id, not one invented per request).
    again = kproto.request(sluice.bootstrap, METADATA, 12, {"Topics": None})
    assert again["ClusterId"] == body["ClusterId"]


# ---------------------------------------------------------------------------------------------
# Requests a broker must refuse by closing the connection (no response).


def closes_without_answer(bootstrap, payload):
    with kproto.Connection(bootstrap) as c:
        c.send_raw(payload)
        return c.is_closed_by_peer(wait=5.0)


def test_metadata_version_too_new_closes_connection(sluice, kafka_ref):
    payload = kproto.encode_request(METADATA, 14, {"Topics": None}, body_version=12)
    assert closes_without_answer(kafka_ref.bootstrap, payload)
    assert closes_without_answer(sluice.bootstrap, payload)


def test_unknown_api_key_closes_connection(sluice, kafka_ref):
    payload = struct.pack(">hhih", 200, 0, 1, -1)
    assert closes_without_answer(kafka_ref.bootstrap, payload)
    assert closes_without_answer(sluice.bootstrap, payload)


def test_unadvertised_api_closes_connection(sluice, sluice_ranges):
    """Sluice-only: an API it does not advertise (it is absent from its ApiVersions list) is
    refused like an unknown one. Picks the lowest client API Sluice does not advertise yet."""
    candidates = [k for k in (0, 1, 2, 8, 9, 10, 11, 19, 32, 60) if k not in sluice_ranges]
    if not candidates:
        pytest.skip("Sluice advertises every candidate API")
    key = candidates[0]
    lo = kafka39_range(key)[0]
    payload = kproto.encode_request(key, lo, {}, correlation_id=3)
    assert closes_without_answer(sluice.bootstrap, payload), kproto.api_name(key)


def test_kproto_uuid_roundtrip():
    """The codec itself: a uuid survives encode/decode (used for topic ids in Metadata v10+)."""
    u = str(uuid.uuid4())
    body = kproto.encode_body(METADATA, 12, {"Topics": [{"TopicId": u, "Name": None}]})
    assert kproto.decode_body(METADATA, 12, body, "request")["Topics"][0]["TopicId"] == u


@pytest.mark.parametrize("version", [8, 9, 10])
def test_metadata_cluster_authorized_operations(sluice, kafka_ref, version):
    """Asked for them, both answer the cluster operations allowed; with no authorizer, all of them
    (8096: CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE)."""
    fields = {"Topics": [], "IncludeClusterAuthorizedOperations": True}
    s, k = metadata_both(sluice, kafka_ref, version, fields)
    assert s["ClusterAuthorizedOperations"] == k["ClusterAuthorizedOperations"] == 8096
    fields["IncludeClusterAuthorizedOperations"] = False
    s, k = metadata_both(sluice, kafka_ref, version, fields)
    assert s["ClusterAuthorizedOperations"] == k["ClusterAuthorizedOperations"] == -2147483648


def test_metadata_unknown_topic_id(sluice, kafka_ref):
    """Metadata v12 by an id nobody has: UNKNOWN_TOPIC_ID (100) and a null name, on both."""
    some_id = "00000000-0000-0000-0000-0000000000aa"
    fields = {"Topics": [{"TopicId": some_id, "Name": None}], "AllowAutoTopicCreation": False}
    s, k = metadata_both(sluice, kafka_ref, 12, fields)
    assert [t["ErrorCode"] for t in k["Topics"]] == [100], k
    assert [t["ErrorCode"] for t in s["Topics"]] == [100], s
    assert s["Topics"][0]["Name"] is None and k["Topics"][0]["Name"] is None
    assert normalize_metadata(s) == normalize_metadata(k)
    # Before v12 ids are refused: the whole answer is Kafka's error response (no brokers, no
    # cluster id, controller -1) with INVALID_REQUEST (42) on the topic, its null name as "".
    for version in (10, 11):
        s = kproto.request(sluice.bootstrap, METADATA, version, fields)
        k = kproto.request(kafka_ref.bootstrap, METADATA, version, fields)
        assert [t["ErrorCode"] for t in k["Topics"]] == [42], k
        assert s == k
