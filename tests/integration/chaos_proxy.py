"""A small TCP proxy for the idempotence tests: listens on 127.0.0.1 (port 0), forwards each client
connection to the broker, and on a seeded schedule breaks Produce requests the way networks do:

- "drop": the request reaches the broker whole, but the connection to the client is closed when
  the broker's answer comes back, before the client sees it (the write happened; the client must
  retry, and only the broker's duplicate detection keeps the record single);
- "cut": only part of the request reaches the broker, then both sides are closed (nothing was
  written; the client must retry).

Only Produce requests (api key 0) are broken, so clients still get their metadata. The seed picks
which requests are broken; the two kinds alternate. Faults are
bounded (max_faults in all) and spaced (at least every_min Produce requests apart), so every client
gets through. Each connection is served by one thread with select(); stop() closes everything and
joins the threads within a bounded time. The broker behind it should advertise the proxy's
address (advertised.listeners), so that clients send their Produce requests through it too.
"""
import random
import select
import socket
import struct
import threading
import time

PRODUCE = 0
READ_BYTES = 65536
DROP_WAIT_S = 10.0   # how long a doomed connection waits for the broker's answer


class ChaosProxy:
    def __init__(self, seed, target=None, fault_rate=0.2, max_faults=20, every_min=2):
        # (host, port) of the broker; may be set (or changed, after a restart) later. The broker
        # should advertise the proxy's address, so clients come back through it.
        self.target = target
        self.rng = random.Random(seed)
        self.fault_rate, self.max_faults, self.every_min = fault_rate, max_faults, every_min
        self.lock = threading.Lock()
        self.faults = {"drop": 0, "cut": 0}
        self.produce_seen = 0
        self._since_fault = 0
        self.connections = 0
        self.enabled = True
        self._stopping = False
        self._threads = []
        self._socks = set()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    # -- the schedule ----------------------------------------------------------------------------

    def _decide(self, api_key):
        """None, "drop" or "cut" for the next request (seeded; shared by all connections)."""
        if api_key != PRODUCE:
            return None
        with self.lock:
            self.produce_seen += 1
            self._since_fault += 1
            roll = self.rng.random()
            # the kinds alternate, so that any run with two faults or more has both
            kind = "drop" if self.faults["drop"] <= self.faults["cut"] else "cut"
            if (not self.enabled or self._stopping or
                    sum(self.faults.values()) >= self.max_faults or
                    self._since_fault < self.every_min or roll >= self.fault_rate):
                return None
            self._since_fault = 0
            self.faults[kind] += 1
            return kind

    # -- plumbing --------------------------------------------------------------------------------

    def _accept_loop(self):
        self.listener.settimeout(0.2)  # so that stop() is noticed: close() does not wake accept()
        while not self._stopping:
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                if self.target is None:
                    raise OSError("no target yet")
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.connections += 1
                self._socks.update((client, upstream))
            t = threading.Thread(target=self._serve, args=(client, upstream), daemon=True)
            self._threads.append(t)
            t.start()

    def _close(self, *socks):
        for s in socks:
            with self.lock:
                self._socks.discard(s)
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _serve(self, client, upstream):
        """Copies frames both ways; breaks the requests _decide picks."""
        to_broker = bytearray()
        to_client = bytearray()
        doomed_cid = None          # correlation id whose answer must not reach the client
        doomed_since = None
        try:
            while not self._stopping:
                r, _, _ = select.select([client, upstream], [], [], 0.2)
                if doomed_since is not None and time.monotonic() - doomed_since > DROP_WAIT_S:
                    return
                if client in r:
                    data = client.recv(READ_BYTES)
                    if not data:
                        return
                    to_broker += data
                    while len(to_broker) >= 4:
                        size = struct.unpack(">i", to_broker[:4])[0]
                        if size < 4 or len(to_broker) < 4 + size:
                            break
                        frame = bytes(to_broker[:4 + size])
                        del to_broker[:4 + size]
                        api_key, _, cid = struct.unpack(">hhi", frame[4:12])
                        kind = self._decide(api_key) if doomed_cid is None else None
                        if kind == "cut":
                            upstream.sendall(frame[:4 + max(1, size // 2)])
                            time.sleep(0.05)
                            return
                        upstream.sendall(frame)
                        if kind == "drop":
                            doomed_cid, doomed_since = cid, time.monotonic()
                if upstream in r:
                    data = upstream.recv(READ_BYTES)
                    if not data:
                        return
                    to_client += data
                    while len(to_client) >= 8:
                        size, cid = struct.unpack(">ii", to_client[:8])
                        if len(to_client) < 4 + size:
                            break
                        frame = bytes(to_client[:4 + size])
                        del to_client[:4 + size]
                        if cid == doomed_cid:
                            return  # the broker answered; the client never hears it
                        client.sendall(frame)
        except OSError:
            return
        finally:
            self._close(client, upstream)

    def stop(self, timeout=10.0):
        self._stopping = True
        try:
            self.listener.close()
        except OSError:
            pass
        with self.lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        self._acceptor.join(max(0.1, deadline - time.monotonic()))
        assert not self._acceptor.is_alive(), "proxy acceptor still running"
        for t in self._threads:
            t.join(max(0.1, deadline - time.monotonic()))
        alive = [t for t in self._threads if t.is_alive()]
        assert not alive, f"{len(alive)} proxy threads still running"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
