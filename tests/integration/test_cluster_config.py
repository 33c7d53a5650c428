"""The cluster keys (KRaft's names) as the running broker sees them: configurations a cluster node
must refuse stop `sluice serve` with exit status 2 and one line naming the key and the reason, and a
listener named in controller.listener.names is bound but never shown to clients (not in Metadata,
not in FindCoordinator) and answers only ApiVersions and the Raft APIs."""
import os
import socket

import pytest

import wire
from conftest import SLUICE_BIN, broker_config, wait_until
from test_lifecycle import describe, run_sluice

API_FIND_COORDINATOR = 10
# ApiVersions, Vote, BeginQuorumEpoch, EndQuorumEpoch, DescribeQuorum, FetchSnapshot, Fetch (a
# replica's, served by the Raft host), DescribeCluster (KIP-919: --bootstrap-controller tools), and
# what the active controller serves: AlterPartition, broker registration and heartbeats, producer
# id blocks, and the admin requests brokers forward.
CONTROLLER_APIS = {18, 52, 53, 54, 55, 59, 1, 60, 56, 62, 63, 67, 19, 20, 33, 37, 44}


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def write(tmp_path, text):
    path = os.path.join(str(tmp_path), "sluice.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


VOTERS = "controller.quorum.voters: 1@127.0.0.11:19093,2@127.0.0.12:19093,3@127.0.0.13:19093\n"
CONTROLLER_LISTENERS = "listeners: PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0\n"

REFUSED = [
    ("bad-voter", "node.id: 1\n" + CONTROLLER_LISTENERS + "controller.quorum.voters: 1-h:9093\n",
     'controller.quorum.voters: voter "1-h:9093" must look like id@host:port'),
    ("duplicate-id", "node.id: 1\n" + CONTROLLER_LISTENERS +
     "controller.quorum.voters: 1@a:9093,1@b:9093\n",
     "controller.quorum.voters: node id 1 is listed twice"),
    ("controller-not-voter", "node.id: 7\n" + CONTROLLER_LISTENERS + VOTERS,
     "node.id 7 has the controller role (process.roles) but is not among the voters (1, 2, 3)"),
    ("no-controller-listener", "node.id: 1\nlisteners: PLAINTEXT://127.0.0.1:0\n" + VOTERS,
     "controller.listener.names: a controller needs a listener named in controller.listener.names"),
    ("kip-853", "controller.quorum.bootstrap.servers: 127.0.0.1:9093\n",
     "controller.quorum.bootstrap.servers: dynamic quorum (KIP-853) is not supported; use "
     "controller.quorum.voters"),
    ("cluster-id", "cluster.id: not-a-kafka-id\n",
     'cluster.id: "not-a-kafka-id" is not a Kafka cluster id'),
    ("roles", "process.roles: broker,zookeeper\n",
     'process.roles: "zookeeper" is not one of broker, controller'),
    ("controller-advertised", "node.id: 1\n" + CONTROLLER_LISTENERS + VOTERS +
     "advertised.listeners: PLAINTEXT://a:9092,CONTROLLER://a:9093\n",
     'listener "CONTROLLER" is a controller listener (controller.listener.names): clients never '
     "use it, so it must not be advertised"),
]


@pytest.mark.parametrize("name,extra,message", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_cluster_config_exits_2(tmp_path, name, extra, message):
    text = broker_config(os.path.join(str(tmp_path), "data")).replace(
        "node.id: 1\n", "").replace("listeners: PLAINTEXT://127.0.0.1:0\n", "") + extra
    p = run_sluice("serve", "--config", write(tmp_path, text))
    assert p.returncode == 2, describe(p)
    assert message in p.stderr, describe(p)
    assert "sluice.yaml:" in p.stderr, describe(p)
    # Nothing was started: the data directory was not even created.
    assert not os.path.exists(os.path.join(str(tmp_path), "data")), describe(p)


def test_refused_by_environment_override(tmp_path):
    path = write(tmp_path, broker_config(os.path.join(str(tmp_path), "data")))
    p = run_sluice("serve", "--config", path,
                   env={"SLUICE_CFG_CONTROLLER_QUORUM_VOTERS": "1@a:9093,2@a:9093"})
    assert p.returncode == 2, describe(p)
    assert ("environment SLUICE_CFG_CONTROLLER_QUORUM_VOTERS: controller.quorum.voters: voters 1 "
            "and 2 have the same address a:9093") in p.stderr, describe(p)


def start_with_controller_listener(start_broker, tmp_path, voters):
    client, controller = free_port(), free_port()
    text = (broker_config(os.path.join(str(tmp_path), "data"))
            .replace("listeners: PLAINTEXT://127.0.0.1:0\n",
                     f"listeners: PLAINTEXT://127.0.0.1:{client},"
                     f"CONTROLLER://127.0.0.1:{controller}\n"))
    if voters:
        text += f"controller.quorum.voters: 1@127.0.0.1:{controller}\n"
    b = start_broker(config_text=text)
    return b, f"127.0.0.1:{client}", f"127.0.0.1:{controller}"


@pytest.mark.parametrize("voters", [False, True], ids=["no-voters", "one-voter"])
def test_controller_listener_bound_but_hidden(start_broker, tmp_path, voters):
    b, client, controller = start_with_controller_listener(start_broker, tmp_path, voters)
    assert set(b.listeners) == {"PLAINTEXT", "CONTROLLER"}, b.listeners
    assert any("controller listener=CONTROLLER" in l and "not advertised" in l
               for l in b.log_lines), b.log_text()
    # Clients see only the client listener, whatever listener they come through (with a voter,
    # once the node has registered with its own quorum's controller: /readyz waits for that).
    if voters:
        wait_until(lambda: wire.metadata(client, version=1)["brokers"], 60,
                   "the node to register with its quorum")
    md = wire.metadata(client, version=1)
    assert [(x["host"], x["port"]) for x in md["brokers"]] == [("127.0.0.1", int(client.split(":")[1]))], md
    # A real client library agrees.
    from confluent_kafka.admin import AdminClient
    brokers = AdminClient({"bootstrap.servers": client}).list_topics(timeout=15).brokers
    assert [f"{x.host}:{x.port}" for x in brokers.values()] == [client], brokers
    # The controller listener answers ApiVersions with the quorum's APIs only ...
    av = wire.api_versions(controller, version=3)
    assert av["error"] == 0, av
    assert 18 in av["apis"] and set(av["apis"]) <= CONTROLLER_APIS, av
    assert 3 not in av["apis"] and 0 not in av["apis"], av  # no Metadata, no Produce
    # ... and closes the connection on a client API, as Kafka's controller listener does.
    wire.expect_closed_without_response(controller, wire.metadata_request(1, 5),
                                        "Metadata on the controller listener")
    find_coordinator = wire.request(API_FIND_COORDINATOR, 0, 6, wire.string("g"))
    wire.expect_closed_without_response(controller, find_coordinator,
                                        "FindCoordinator on the controller listener")
    # The client listener is untouched by all this.
    wire.assert_still_serving(b)
    assert wire.api_versions(client, version=3)["apis"].get(3) is not None


def test_metrics_name_the_client_address_even_with_the_controller_listener_first(start_broker,
                                                                                tmp_path):
    import urllib.request
    client, controller = free_port(), free_port()
    text = (broker_config(os.path.join(str(tmp_path), "data"))
            .replace("listeners: PLAINTEXT://127.0.0.1:0\n",
                     f"listeners: CONTROLLER://127.0.0.1:{controller},"
                     f"PLAINTEXT://127.0.0.1:{client}\n"))
    b = start_broker(config_text=text)
    with urllib.request.urlopen(f"{b.http_url}/metrics", timeout=10) as r:
        metrics = r.read().decode()
    info = [l for l in metrics.splitlines() if l.startswith("kafka_broker_info{")]
    assert len(info) == 1 and f'address="127.0.0.1:{client}"' in info[0], info
