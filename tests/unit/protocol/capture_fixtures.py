#!/usr/bin/env python3
"""Regenerates tests/unit/protocol/fixtures.h: byte fixtures for ApiVersions v0-4 and Metadata
v0-12, requests and responses. Not run by the tests (the output is committed); run it by hand:

    python3 tests/unit/protocol/capture_fixtures.py > tests/unit/protocol/fixtures.h

Where the bytes come from (each fixture's comment in the output repeats it):
  - real clients through a recording TCP proxy in front of a real Apache Kafka 4.0.0
    (tests/integration/kafka_ref.py): `kcat -b ... -L -m 2` (librdkafka 2.0.2) and Debian's
    kafka-python 2.0.2 (/usr/bin/python3, KafkaConsumer with api_version_auto_timeout_ms);
  - other request versions: encoded by tests/integration/kproto.py (an independent codec);
  - responses: the real Kafka 4.0.0 broker's answer to each request; for versions Kafka 4.0
    removed (Metadata v0-3) the v4 answer re-encoded at that version by kproto.
"""
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "integration"))
import kafka_ref  # noqa: E402
import kproto  # noqa: E402


def log(*a):
    print(*a, file=sys.stderr)


class Proxy:
    """Forwards 127.0.0.1:port to the broker and records every frame in both directions."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.conns = []  # [(requests, responses)]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            host, port = self.upstream.rsplit(":", 1)
            u = socket.create_connection((host, int(port)))
            rec = ([], [])
            self.conns.append(rec)
            threading.Thread(target=self.pump, args=(c, u, rec[0]), daemon=True).start()
            threading.Thread(target=self.pump, args=(u, c, rec[1]), daemon=True).start()

    @staticmethod
    def pump(src, dst, frames):
        buf = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                buf += data
                while len(buf) >= 4:
                    n = struct.unpack(">i", buf[:4])[0]
                    if len(buf) < 4 + n:
                        break
                    frames.append(buf[4 : 4 + n])
                    buf = buf[4 + n :]
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def exchange(bootstrap, payload):
    """Sends one request payload; returns the response payload or None if the broker closed."""
    with kproto.Connection(bootstrap) as c:
        c.send_raw(payload)
        try:
            return c.recv_frame()
        except (ConnectionError, OSError):
            return None


def c_array(name, data, comment):
    lines = ["/* %s */" % comment, "static const uint8_t %s[] = {" % name]
    for i in range(0, len(data), 16):
        lines.append("    " + ", ".join("0x%02x" % b for b in data[i : i + 16]) + ",")
    lines.append("};")
    return "\n".join(lines)


def main():
    out = []
    with tempfile.TemporaryDirectory() as tmp, kafka_ref.KafkaRef(tmp) as k:
        kproto.request(k.bootstrap, 19, 7, {"Topics": [{"Name": "fixture", "NumPartitions": 2,
                       "ReplicationFactor": 1}], "TimeoutMs": 10000})
        proxy = Proxy(k.bootstrap)
        pb = "127.0.0.1:%d" % proxy.port
        subprocess.run(["kcat", "-b", pb, "-L", "-m", "3"], capture_output=True, timeout=30)
        subprocess.run(["/usr/bin/python3", "-c", "import kafka\ntry:\n kafka.KafkaConsumer("
                        "bootstrap_servers='%s', api_version_auto_timeout_ms=2000)\n"
                        "except Exception as e: print(e)" % pb], capture_output=True, timeout=60)
        real = {}
        for reqs, _ in proxy.conns:
            for r in reqs:
                key, ver = struct.unpack(">hh", r[:4])
                src = "kcat 1.7.1 / librdkafka 2.0.2" if b"rdkafka" in r or b"kcat" in r else \
                    "kafka-python 2.0.2 (Debian)"
                real.setdefault((key, ver), (r, src))
        log("real client requests:", sorted(real))
        cases = [(18, v) for v in range(5)] + [(3, v) for v in range(13)]
        resp_v4 = None
        for key, v in cases:
            if (key, v) in real:
                req, src = real[(key, v)]
                src = "captured from %s" % src
            else:
                if key == 18:
                    fields = {"ClientSoftwareName": "sluice-test", "ClientSoftwareVersion": "0.1.0"}
                else:
                    fields = {"Topics": [{"Name": "fixture"}], "AllowAutoTopicCreation": False,
                              "IncludeTopicAuthorizedOperations": v >= 8}
                req = kproto.encode_request(key, v, fields, correlation_id=7 + v,
                                            client_id="sluice-fixture")
                src = "encoded by tests/integration/kproto.py"
            resp = exchange(k.bootstrap, req)
            rsrc = "answer of a real Apache Kafka 4.0.0 broker"
            if key == 3 and v == 4:
                resp_v4 = kproto.decode_response(3, 4, resp)
            if resp is None and key == 3:
                cid = struct.unpack(">i", req[4:8])[0]
                hdr, body = resp_v4
                resp = struct.pack(">i", cid) + kproto.encode_body(3, v, body, kind="response")
                rsrc = "Kafka 4.0.0's Metadata v4 answer re-encoded as v%d by kproto.py" % v
            if resp is None:
                raise RuntimeError("no response for %d v%d" % (key, v))
            name = "api_versions" if key == 18 else "metadata"
            out.append(c_array("%s_request_v%d" % (name, v), req, "%s v%d request: %s" % (name, v, src)))
            out.append(c_array("%s_response_v%d" % (name, v), resp, "%s v%d response: %s" % (name, v, rsrc)))
    print("/* fixtures: Kafka frames (payload after the int32 size: header + body) for the protocol")
    print(" * round-trip tests. Generated by capture_fixtures.py in this directory; see it for sources. */")
    print("#ifndef SL_TEST_PROTOCOL_FIXTURES_H\n#define SL_TEST_PROTOCOL_FIXTURES_H\n#include <stdint.h>\n")
    print("/* clang-format off */")
    print("\n".join(out))
    print("/* clang-format on */")
    print("\n#endif")


if __name__ == "__main__":
    main()
