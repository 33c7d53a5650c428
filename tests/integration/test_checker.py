"""The loss checker (checker.py) on constructed inputs, one category at a time, then against one
real Sluice node: idempotent acks=all writers, the broker SIGKILLed in the middle of the run and
restarted, a full read-back, and the checker must find nothing lost, moved, duplicated or
reordered."""
import os

import pytest

from checker import Anomaly, Record, Writers, check, parse_value, read_back, writer_value
from conftest import wait_until

T = "t"


def recs(*items):
    """(partition, offset, writer, seq) -> Records with writer_value payloads."""
    return [Record(T, p, o, f"k{w}".encode(), writer_value(w, s)) for p, o, w, s in items]


def test_values_round_trip():
    assert parse_value(writer_value(3, 17)) == (3, 17)
    assert parse_value(writer_value(3, 17, size=100)) == (3, 17)
    assert len(writer_value(3, 17, size=100)) == 100
    assert parse_value(b"w1-s2-") == (1, 2)
    assert parse_value(b"hello") is None and parse_value(b"") is None and parse_value(None) is None
    assert parse_value(b"w1-s") is None


def test_clean_run_with_unacknowledged_extras():
    acked = recs((0, 0, 1, 0), (0, 1, 1, 1), (1, 0, 2, 0))
    # The read-back also holds a write whose ack never came (in flight at a crash): allowed.
    r = check(acked, acked + recs((0, 2, 1, 2)))
    assert r.ok, r.summary()
    assert (r.acknowledged, r.read, r.unacknowledged_present) == (3, 4, 1)
    assert "0 lost, 0 moved, 0 duplicated, 0 reordered" in r.summary()
    r.assert_clean()


def test_lost_absent():
    acked = recs((0, 0, 1, 0), (0, 1, 1, 1), (0, 2, 1, 2))
    r = check(acked, acked[:2])
    assert [(a.kind, a.partition, a.offsets, a.writer, a.seq) for a in r.anomalies()] == [
        ("lost", 0, (2,), 1, 2)]
    assert r.lost[0].message == "lost: 'w1-s2' acknowledged at t-0@2; read back there: nothing"
    with pytest.raises(AssertionError) as e:
        r.assert_clean()
    assert "1 lost" in str(e.value) and "t-0@2" in str(e.value)


def test_lost_overwritten_at_its_offset():
    # Another writer's record sits where the acknowledged one was (a truncated, rewritten log).
    acked = recs((0, 5, 1, 9))
    stored = recs((0, 5, 2, 0))
    r = check(acked, stored)
    assert [a.kind for a in r.anomalies()] == ["lost"]
    assert "read back there: 'w2-s0' (key 'k2')" in r.lost[0].message
    # Same value but another key at that offset is not the acknowledged record either.
    r = check(acked, [Record(T, 0, 5, b"other", writer_value(1, 9))])
    assert [a.kind for a in r.anomalies()] == ["lost"]


def test_moved():
    acked = recs((0, 3, 1, 0))
    r = check(acked, recs((0, 7, 1, 0)))
    assert [(a.kind, a.offsets) for a in r.anomalies()] == [("moved", (3, 7))]
    assert r.moved[0].message == ("moved: 'w1-s0' acknowledged at t-0@3 is at t-0@7; at its "
                                  "offset: nothing")
    # Into another partition, with something else at the acknowledged offset.
    r = check(acked, recs((2, 3, 1, 0), (0, 3, 4, 4)))
    assert [a.kind for a in r.anomalies()] == ["moved"]
    assert "is at t-2@3; at its offset: 'w4-s4'" in r.moved[0].message
    assert r.lost == []


def test_duplicated():
    acked = recs((0, 0, 1, 0), (0, 1, 1, 1))
    stored = recs((0, 0, 1, 0), (0, 1, 1, 1), (0, 2, 1, 1))
    r = check(acked, stored)
    assert [(a.kind, a.offsets, a.writer, a.seq) for a in r.anomalies()] == [
        ("duplicated", (1, 2), 1, 1)]
    assert r.duplicated[0].message == ("duplicated: writer 1's record 1 ('w1-s1') is at t-0@1, "
                                       "t-0@2")
    # A duplicate is not also a reorder, and an unacknowledged duplicate counts too.
    r = check([], recs((0, 0, 1, 5), (0, 1, 1, 5)))
    assert [a.kind for a in r.anomalies()] == ["duplicated"]
    # Values outside the writer scheme (other producers) are never duplicates.
    other = [Record(T, 0, o, b"", b"same") for o in range(3)]
    assert check([], other).ok


def test_reordered():
    stored = recs((0, 0, 1, 0), (0, 1, 1, 2), (0, 2, 1, 1), (0, 3, 2, 0), (0, 4, 1, 3))
    r = check(stored, stored)
    assert [(a.kind, a.offsets, a.writer, a.seq) for a in r.anomalies()] == [
        ("reordered", (1, 2), 1, 1)]
    assert r.reordered[0].message == ("reordered: in t-0 writer 1's record 1 is at offset 2, after "
                                      "its record 2 at offset 1")
    # Sequences interleaved across writers, or split across partitions, are in order.
    ok = recs((0, 0, 1, 0), (0, 1, 2, 0), (0, 2, 1, 2), (1, 0, 1, 1), (0, 3, 2, 1))
    assert check(ok, ok).ok


def test_everything_at_once_reads_well():
    acked = recs((0, 0, 1, 0), (0, 1, 1, 1), (0, 2, 1, 2), (0, 3, 2, 0))
    stored = recs((0, 0, 1, 0), (0, 1, 1, 2), (0, 2, 1, 1), (0, 3, 1, 1), (0, 9, 2, 0))
    r = check(acked, stored)
    assert sorted(a.kind for a in r.anomalies()) == [
        "duplicated", "moved", "moved", "moved", "reordered"], r.summary()
    text = r.summary(per_kind=1)
    assert "3 moved, 1 duplicated, 1 reordered" in text
    assert "... and 2 more moved" in text
    assert all(isinstance(a, Anomaly) for a in r.anomalies())


def test_tuples_accepted():
    acked = [(T, 0, 0, b"k", writer_value(1, 0))]
    assert check(acked, acked).ok


# ---------------------------------------------------------------- against a real node


def test_sigkill_mid_run_loses_nothing_acknowledged(tmp_path):
    from confluent_kafka.admin import AdminClient, NewTopic

    from cluster import SluiceCluster
    with SluiceCluster(tmp_path, n=1, controllers=1) as c:
        admin = AdminClient({"bootstrap.servers": c.bootstrap()})
        admin.create_topics([NewTopic("checked", 3, 1)])["checked"].result(30)
        del admin
        writers = Writers(c.bootstrap(), "checked", partitions=3).start()
        try:
            wait_until(lambda: writers.count() >= 2000, 120, "2000 acknowledged writes")
            c.kill(1)  # SIGKILL, with writes in flight
            before_kill = writers.count()
            c.restart(1)
            c.wait_ready(1)
            wait_until(lambda: writers.count() >= before_kill + 2000, 180,
                     "2000 more acknowledged writes after the restart")
        finally:
            writers.stop()
        result = check(writers.acks, read_back(c.bootstrap(), ["checked"]))
        result.assert_clean()
        assert result.acknowledged >= 4000, result.summary()
        # Every writer got through on all three partitions, before and after the kill.
        assert {(a.partition, parse_value(a.value)[0]) for a in writers.acks} == {
            (p, w) for p in range(3) for w in range(3)}


def test_checker_catches_loss_from_a_broken_log(tmp_path):
    """The other direction, end to end: acknowledged records really removed from a real broker's
    log (its newest segment cut in half while the broker is down, as a lost disk write would)
    are reported as lost, and only those."""
    import glob

    from confluent_kafka.admin import AdminClient, NewTopic

    from cluster import SluiceCluster
    with SluiceCluster(tmp_path, n=1, controllers=0) as c:
        admin = AdminClient({"bootstrap.servers": c.bootstrap()})
        admin.create_topics([NewTopic("lossy", 1, 1)])["lossy"].result(30)
        del admin
        writers = Writers(c.bootstrap(), "lossy", partitions=1, n=2).start()
        try:
            wait_until(lambda: writers.count() >= 1000, 120, "1000 acknowledged writes")
        finally:
            writers.stop()
        c.kill(1)  # unclean: recovery scans the log and keeps the valid batches
        segments = sorted(glob.glob(f"{c.node(1).data_dir}/lossy-0/*.log"))
        assert segments, f"no segment under {c.node(1).data_dir}/lossy-0"
        size = os.path.getsize(segments[-1])
        with open(segments[-1], "r+b") as f:
            f.truncate(size // 2)
        c.restart(1)
        c.wait_ready(1)
        stored = read_back(c.bootstrap(), ["lossy"])
    result = check(writers.acks, stored)
    assert not result.ok and result.lost, result.summary()
    assert result.moved == [] and result.duplicated == [] and result.reordered == []
    # Exactly the acknowledged records that are no longer there, all past what survived.
    kept = {r.offset for r in stored}
    assert {a.offsets[0] for a in result.lost} == {a.offset for a in writers.acks} - kept
    assert min(a.offsets[0] for a in result.lost) > max(kept, default=-1)
    assert f"{len(result.lost)} lost" in result.summary()
