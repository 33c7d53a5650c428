"""PeerProxy: a TCP proxy in front of one node's inter-node endpoint (its controller listener, or
the inter-broker listener partition replication uses), so a test can cut a node off from its
peers while clients still reach it directly. SluiceCluster(peer_proxies=True) puts one in front of
each such endpoint and advertises the proxy instead (cluster.py: isolate(i), heal(i)).

Every node opens its peer connections with client id "sluice-<node id>" (src/replication/peer.c),
so the proxy knows who is talking from the first request header. A connection is blocked when its
source or its destination node is in `blocked` (a set shared by all the proxies of a cluster):
a blocked connection is black-holed (bytes in both directions are read and dropped, nothing is
closed), as a network partition behaves: the peers see requests time out, not a reset. Healing
closes the black-holed connections, so the peers reconnect with a clean byte stream. Connections
whose client id names no node (a client, a tool) are never blocked.
"""
import re
import select
import socket
import struct
import threading

READ_BYTES = 65536
_PEER_CLIENT_ID = re.compile(rb"^sluice-(\d+)$")


def source_node(frame):
    """Node id from a request frame's header client id ("sluice-N"), or None."""
    # size(4) api_key(2) api_version(2) correlation_id(4) client_id(int16 length + bytes)
    if len(frame) < 14:
        return None
    n = struct.unpack(">h", frame[12:14])[0]
    if n < 0 or len(frame) < 14 + n:
        return None
    m = _PEER_CLIENT_ID.match(frame[14:14 + n])
    return int(m.group(1)) if m else None


class PeerProxy:
    def __init__(self, node_id, target, blocked, lock, host="127.0.0.1"):
        self.node_id = node_id          # the node behind the proxy
        self.target = target            # (host, port) of its real endpoint
        self.blocked = blocked          # set of node ids cut off (shared, guarded by lock)
        self.lock = lock
        self._conns = []                # [client, upstream, source node or None, black-holed]
        self._stopping = False
        self._threads = []
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, 0))
        self.listener.listen(64)
        self.host, self.port = host, self.listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    @property
    def address(self):
        return f"{self.host}:{self.port}"

    def _cut(self, source):
        """Whether a connection from `source` to this node is currently blocked (lock held)."""
        if source is None:
            return False
        return self.node_id in self.blocked or source in self.blocked

    def heal(self):
        """Closes the connections black-holed so far; new ones go through if not blocked."""
        with self.lock:
            dead = [c for c in self._conns if c[3]]
        for c in dead:
            self._close(c)

    def _accept_loop(self):
        self.listener.settimeout(0.2)  # so that stop() is noticed
        while not self._stopping:
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()  # the node is down: as if the connection were refused
                continue
            conn = [client, upstream, None, False]
            with self.lock:
                self._conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(t)
            t.start()

    def _close(self, conn):
        with self.lock:
            if conn in self._conns:
                self._conns.remove(conn)
        for s in conn[:2]:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _serve(self, conn):
        client, upstream = conn[0], conn[1]
        first = bytearray()  # bytes held until the first request's header names the source
        try:
            while not self._stopping:
                r, _, _ = select.select([client, upstream], [], [], 0.2)
                with self.lock:
                    if not conn[3] and self._cut(conn[2]):
                        conn[3] = True
                    holed = conn[3]
                for s in r:
                    data = s.recv(READ_BYTES)
                    if not data:
                        return
                    if holed:
                        continue  # a partition: the bytes are lost
                    if s is upstream:
                        client.sendall(data)
                        continue
                    if first is not None:
                        first += data
                        if len(first) < 14:
                            continue
                        conn[2] = source_node(bytes(first))
                        data, first = bytes(first), None
                        with self.lock:
                            if self._cut(conn[2]):
                                conn[3] = True
                                continue
                    upstream.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            self._close(conn)

    def stop(self, timeout=10.0):
        self._stopping = True
        try:
            self.listener.close()
        except OSError:
            pass
        with self.lock:
            conns = list(self._conns)
        for c in conns:
            for s in c[:2]:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._acceptor.join(timeout)
        for t in self._threads:
            t.join(timeout)
