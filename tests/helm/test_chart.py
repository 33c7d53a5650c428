"""The Helm chart, rendered offline with the pinned helm and Kubernetes version: lint, strict
validation of every object against the Kubernetes API's Go types, and the fields that make the
StatefulSet work (ordinal node ids, per-pod advertised listeners, ports, probes, PDB)."""
import os
import re

import pytest
import yaml

from helmchart import (CHART, KUBE_VERSION, NAMESPACE, RELEASE, VALUES_DIR, helm, render,
                       render_notes, render_text, validate)

SCENARIOS = sorted(f for f in os.listdir(VALUES_DIR) if f.endswith(".yaml"))
HEADLESS = f"{RELEASE}-sluice-headless"


def test_scenarios_cover_the_issue():
    for name in ("bitnami-typical.yaml", "three-replicas.yaml", "external-nodeport.yaml",
                 "external-loadbalancer.yaml", "metrics.yaml", "networkpolicy.yaml"):
        assert name in SCENARIOS


@pytest.mark.parametrize("values", [None] + SCENARIOS)
def test_lint_strict(values):
    args = ["lint", "--strict", "--kube-version", KUBE_VERSION, CHART]
    if values:
        args += ["-f", os.path.join(VALUES_DIR, values)]
    r = helm(*args)
    assert "0 chart(s) failed" in r.stdout


@pytest.mark.parametrize("values", [None] + SCENARIOS)
def test_every_object_decodes_strictly(values):
    text = render_text([values] if values else []).stdout
    code, out = validate(text)
    assert code == 0, out
    assert re.search(r"k8s-validate: \d+ object\(s\) valid", out)


def test_validator_rejects_a_misspelled_field(default_render):
    """The proof that the validation is strict: one misspelled key fails, naming the field."""
    assert "livenessProbe:" in default_render.text
    code, out = validate(default_render.text.replace("livenessProbe:", "livenesProbe:", 1))
    assert code == 1
    assert 'unknown field "spec.template.spec.containers[0].livenesProbe"' in out


def test_validator_rejects_wrong_types_and_case(default_render):
    code, out = validate(default_render.text.replace("containerPort: 9092", 'containerPort: "9092"'))
    assert code == 1 and "containerPort" in out and "int32" in out
    code, out = validate(default_render.text.replace("containerPort: 9092", "ContainerPort: 9092"))
    assert code == 1 and 'unknown field' in out and "ContainerPort" in out
    code, out = validate(default_render.text.replace("kind: PodDisruptionBudget", "kind: PodDisruptionBudgett"))
    assert code == 1 and "PodDisruptionBudgett" in out


def test_schema_rejects_misspelled_and_mistyped_values():
    r = render_text(sets=["livenesProbe.enabled=false"], check=False)
    assert r.returncode != 0 and "livenesProbe" in r.stderr
    r = render_text(sets=["persistence.sise=10Gi"], check=False)
    assert r.returncode != 0 and "sise" in r.stderr
    r = render_text(sets=["replicaCount=three"], check=False)
    assert r.returncode != 0 and "replicaCount" in r.stderr
    r = render_text(sets=["podAntiAffinityPreset=sometimes"], check=False)
    assert r.returncode != 0 and "podAntiAffinityPreset" in r.stderr


def test_unimplemented_protocols_fail_with_a_message():
    r = render_text(sets=["listeners.client.protocol=SASL_PLAINTEXT"], check=False)
    assert r.returncode != 0
    assert "listeners.client.protocol: SASL_PLAINTEXT is not implemented by Sluice yet" in r.stderr


def test_default_broker_config(default_render):
    cfg = default_render.broker_config()
    assert cfg["node.id"] == "${SLUICE_NODE_ID}"
    assert cfg["listeners"] == "CLIENT://:9092"
    assert cfg["advertised.listeners"] == \
        f"CLIENT://${{POD_NAME}}.{HEADLESS}.${{POD_NAMESPACE}}.svc.cluster.local:9092"
    assert cfg["listener.security.protocol.map"] == "CLIENT:PLAINTEXT"
    assert cfg["log.dirs"] == "/var/lib/sluice/data"
    assert cfg["http.listeners"] == "http://0.0.0.0:9644"


def test_statefulset_shape(default_render):
    sts = default_render.get("StatefulSet", f"{RELEASE}-sluice")
    spec = sts["spec"]
    assert spec["replicas"] == 1
    assert spec["serviceName"] == HEADLESS
    pod = spec["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] >= 30
    assert pod["securityContext"]["fsGroup"] == 1001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    c = default_render.broker_container()
    assert c["command"] == ["/bin/sh", "/scripts/setup.sh"]
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
    env = {e["name"]: e for e in c["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"tcp-client": 9092, "http": 9644}
    assert c["startupProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    # read-only root: the data volume, /tmp and the mounted files are all it writes or reads
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert mounts["/var/lib/sluice/data"] == "data" and mounts["/tmp"] == "tmp"
    assert mounts["/etc/sluice/sluice.yaml"] == "config"
    claim = spec["volumeClaimTemplates"][0]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "8Gi"


def test_services(default_render):
    headless = default_render.get("Service", HEADLESS)["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    client = default_render.get("Service", f"{RELEASE}-sluice")["spec"]
    assert client["type"] == "ClusterIP"
    assert [(p["port"], p["targetPort"]) for p in client["ports"]] == [(9092, "tcp-client")]
    sts = default_render.get("StatefulSet")
    labels = sts["spec"]["template"]["metadata"]["labels"]
    for svc in (headless, client):
        assert all(labels[k] == v for k, v in svc["selector"].items())


def test_pdb_default_and_min_available(default_render):
    pdb = default_render.get("PodDisruptionBudget")["spec"]
    assert pdb["maxUnavailable"] == 1 and "minAvailable" not in pdb
    pdb = render(["three-replicas.yaml"]).get("PodDisruptionBudget")["spec"]
    assert pdb["minAvailable"] == 2 and "maxUnavailable" not in pdb


def test_three_replicas_ordinal_ids_and_advertised_listeners():
    r = render(["three-replicas.yaml"])
    assert r.get("StatefulSet")["spec"]["replicas"] == 3
    cfg = r.broker_config()
    assert cfg["num.partitions"] == 6 and cfg["log.segment.bytes"] == 268435456
    pod = r.get("StatefulSet")["spec"]["template"]["spec"]
    hard = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert hard[0]["topologyKey"] == "kubernetes.io/hostname"
    assert pod["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"
    # Each pod's identity, as setup.sh computes it from the StatefulSet's pod names.
    for ordinal in range(3):
        env = run_setup(r, f"{RELEASE}-sluice-{ordinal}")
        assert env["SLUICE_NODE_ID"] == str(ordinal)
        assert expand(cfg["advertised.listeners"], env) == \
            f"CLIENT://{RELEASE}-sluice-{ordinal}.{HEADLESS}.{NAMESPACE}.svc.cluster.local:9092"


def test_min_id_offsets_node_ids():
    r = render(["three-replicas.yaml"], sets=["minId=100"])
    assert run_setup(r, f"{RELEASE}-sluice-2")["SLUICE_NODE_ID"] == "102"


def test_external_nodeport_one_service_per_broker():
    r = render(["external-nodeport.yaml"])
    services = {s["metadata"]["name"]: s for s in r.all("Service")}
    cfg = r.broker_config()
    assert cfg["listeners"] == "CLIENT://:9092,EXTERNAL://:9095${SLUICE_CONTROLLER_LISTENER}"
    assert cfg["listener.security.protocol.map"] == "CLIENT:PLAINTEXT,EXTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT"
    for ordinal, node_port in enumerate([30092, 30093, 30094]):
        pod = f"{RELEASE}-sluice-{ordinal}"
        spec = services[f"{pod}-external"]["spec"]
        assert spec["type"] == "NodePort"
        assert spec["selector"]["statefulset.kubernetes.io/pod-name"] == pod
        assert spec["ports"][0]["nodePort"] == node_port
        assert spec["ports"][0]["targetPort"] == "tcp-external"
        env = run_setup(r, pod)
        assert expand(cfg["advertised.listeners"], env).split(",")[1] == \
            f"EXTERNAL://kafka.example.test:{node_port}"
    ports = {p["name"]: p["containerPort"] for p in r.broker_container()["ports"]}
    assert ports["tcp-external"] == 9095


def test_external_loadbalancer_addresses_per_broker():
    r = render(["external-loadbalancer.yaml"])
    cfg = r.broker_config()
    for ordinal, ip in enumerate(["192.0.2.10", "192.0.2.11"]):
        pod = f"{RELEASE}-sluice-{ordinal}"
        spec = r.get("Service", f"{pod}-external")["spec"]
        assert spec["type"] == "LoadBalancer" and spec["loadBalancerIP"] == ip
        assert spec["loadBalancerSourceRanges"] == ["198.51.100.0/24"]
        env = run_setup(r, pod)
        assert expand(cfg["advertised.listeners"], env).split(",")[1] == f"EXTERNAL://{ip}:9094"


def test_external_access_needs_an_address_per_broker():
    r = render_text(["external-loadbalancer.yaml"], sets=["replicaCount=3"], check=False)
    assert r.returncode != 0 and "loadBalancerIPs" in r.stderr


def test_external_autodiscovery():
    r = render(["external-autodiscovery.yaml"])
    pod = r.get("StatefulSet")["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == ["auto-discovery"]
    assert pod["automountServiceAccountToken"] is True
    assert "auto-discovery.sh" in r.get("ConfigMap", f"{RELEASE}-sluice-scripts")["data"]
    role = r.get("Role")
    assert role["rules"][0]["resources"] == ["services"]
    # setup.sh takes the address the init container wrote.
    env = run_setup(r, f"{RELEASE}-sluice-1", shared={"external-host": "203.0.113.7", "external-port": "9094"})
    assert (env["SLUICE_EXTERNAL_HOST"], env["SLUICE_EXTERNAL_PORT"]) == ("203.0.113.7", "9094")


def test_metrics_service_monitor_from_either_key():
    r = render(["metrics.yaml"])
    sm = r.get("ServiceMonitor")
    assert sm["metadata"]["labels"]["release"] == "prometheus"
    assert sm["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s"}]
    metrics_svc = r.get("Service", f"{RELEASE}-sluice-metrics")
    assert all(metrics_svc["metadata"]["labels"][k] == v
               for k, v in sm["spec"]["selector"]["matchLabels"].items())
    assert metrics_svc["spec"]["ports"][0]["port"] == 9644
    assert r.get("PrometheusRule")["spec"]["groups"][0]["name"] == "sluice"
    bitnami = render(["bitnami-typical.yaml"]).get("ServiceMonitor")
    assert bitnami["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert bitnami["spec"]["endpoints"][0]["interval"] == "30s"
    assert render().all("ServiceMonitor") == []


def test_network_policy_limits_the_client_port():
    r = render(["networkpolicy.yaml"])
    np = r.get("NetworkPolicy")["spec"]
    client_rule = next(rule for rule in np["ingress"]
                       if rule.get("ports") == [{"port": 9092, "protocol": "TCP"}])
    sources = client_rule["from"]
    assert {"podSelector": {"matchLabels": {f"{RELEASE}-sluice-client": "true"}}} in sources
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "apps"}}} in sources
    assert any(rule.get("ports") == [{"port": 9644, "protocol": "TCP"}] for rule in np["ingress"])
    assert np["egress"][0]["ports"][0]["port"] == 53


def test_bitnami_values_carry_over():
    r = render(["bitnami-typical.yaml"])
    cfg = r.broker_config()
    assert cfg["auto.create.topics.enable"] is False and cfg["num.partitions"] == 3
    assert cfg["log.retention.hours"] == 72
    assert cfg["default.replication.factor"] == 1 and cfg["offsets.topic.replication.factor"] == 1
    assert "offsetsTopicReplicationFactor" not in render_notes(["bitnami-typical.yaml"])
    assert cfg["log.retention.bytes"] == "1073741824" and cfg["message.max.bytes"] == "2000000"
    # config given as server.properties text
    assert cfg["compression.type"] == "producer"
    assert cfg["log.retention.check.interval.ms"] == "300000"
    claim = r.get("StatefulSet")["spec"]["volumeClaimTemplates"][0]["spec"]
    assert claim["storageClassName"] == "gp3" and claim["resources"]["requests"]["storage"] == "20Gi"
    assert r.broker_container()["resources"]["limits"]["memory"] == "2Gi"
    job = r.get("Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    script = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
    assert "create 'orders' --partitions 6 --replication-factor 1 --config 'cleanup.policy=delete' " \
           "--config 'retention.ms=604800000'" in script
    assert "create 'payments' --partitions 3 --replication-factor 1" in script
    assert "sluice topic create \"$@\" --if-not-exists" in script


def test_notes_name_ignored_keys_and_connection_instructions():
    notes = render_notes(["bitnami-typical.yaml"], sets=["zookeeper.enabled=true"])
    assert f"{RELEASE}-sluice.{NAMESPACE}.svc.cluster.local:9092" in notes
    assert "kcat -b" in notes and "confluent_kafka" in notes
    ignored = notes.split("accepted and are ignored")[1]
    for key in ("zookeeper.*", "metrics.jmx.*", "heapOpts", "transactionStateLogReplicationFactor"):
        assert key in ignored
    assert "accepted and are ignored" not in render_notes()


def test_security_wiring_and_io_uring_seccomp():
    r = render(["security-wiring.yaml"])
    pod = r.get("StatefulSet")["spec"]["template"]["spec"]
    assert pod["securityContext"]["seccompProfile"] == \
        {"type": "Localhost", "localhostProfile": "profiles/sluice-io-uring.json"}
    profile = r.get("ConfigMap", f"{RELEASE}-sluice-seccomp")["data"]["sluice-io-uring.json"]
    denied = yaml.safe_load(profile)["syscalls"][0]["names"]
    assert not [n for n in denied if n.startswith("io_uring")]
    assert "mount" in denied and "bpf" in denied
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == "sluice-tls"
    c = r.broker_container()
    env = {e["name"]: e for e in c["env"]}
    assert env["SLUICE_SASL_CLIENT_PASSWORDS"]["valueFrom"]["secretKeyRef"] == \
        {"name": "sluice-sasl", "key": "client-passwords"}
    assert env["SLUICE_SASL_CLIENT_USERS"]["value"] == "alice,bob"
    assert r.get("Secret", f"{RELEASE}-sluice-tls-password")["type"] == "Opaque"
    assert [i["name"] for i in pod["initContainers"]] == ["volume-permissions"]


def test_existing_claim_refuses_several_brokers():
    r = render_text(sets=["persistence.existingClaim=data-0", "replicaCount=2"], check=False)
    assert r.returncode != 0 and "existingClaim" in r.stderr
    sts = render(sets=["persistence.existingClaim=data-0"]).get("StatefulSet")["spec"]
    assert "volumeClaimTemplates" not in sts
    claims = [v for v in sts["template"]["spec"]["volumes"] if "persistentVolumeClaim" in v]
    assert claims == [{"name": "data", "persistentVolumeClaim": {"claimName": "data-0"}}]


def test_helm_test_pod_round_trips_a_record(default_render):
    pods = [p for p in default_render.all("Pod") if p["metadata"]["annotations"].get("helm.sh/hook") == "test"]
    assert len(pods) == 1
    script = pods[0]["spec"]["containers"][0]["args"][0]
    assert "sluice produce" in script and "sluice consume" in script


# ---- setup.sh, run for real with the environment a pod gets ----

def run_setup(rendered, pod_name, shared=None):
    """Runs the chart's setup.sh with the env the StatefulSet gives pod_name, with SLUICE_BIN
    replaced by a stub that prints the environment it was exec'd with; returns that env."""
    import subprocess
    import tempfile
    container = rendered.broker_container()
    env = {"PATH": os.environ["PATH"], "POD_NAME": pod_name, "POD_NAMESPACE": NAMESPACE,
           "HOST_IP": "10.0.0.5"}
    for e in container["env"]:
        if "value" in e:
            env[e["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), ""), e["value"])
    with tempfile.TemporaryDirectory() as d:
        script = os.path.join(d, "setup.sh")
        with open(script, "w") as f:
            text = rendered.script("setup.sh")
            if shared:
                text = text.replace("/shared/", d + "/shared/")
                os.mkdir(os.path.join(d, "shared"))
                for name, value in shared.items():
                    with open(os.path.join(d, "shared", name), "w") as s:
                        s.write(value)
            f.write(text)
        stub = os.path.join(d, "print-env")
        with open(stub, "w") as f:
            f.write("#!/bin/sh\nenv\n")
        os.chmod(stub, 0o755)
        env["SLUICE_BIN"] = stub
        r = subprocess.run(["/bin/sh", script], env=env, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)


def expand(value, env):
    return re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], value)


def test_example_manifests_decode_strictly():
    """The manifests docs/kubernetes.md tells people to apply."""
    examples = os.path.join(os.path.dirname(CHART), "..", "examples")
    for name in sorted(os.listdir(examples)):
        with open(os.path.join(examples, name)) as f:
            code, out = validate(f.read())
        assert code == 0, f"{name}: {out}"


def test_newer_bitnami_layout_sets_the_broker_count():
    """The Bitnami chart's KRaft layout counts controller (combined) nodes plus broker nodes."""
    sts = render(sets=["controller.replicaCount=3", "broker.replicaCount=0"]).get("StatefulSet")
    assert sts["spec"]["replicas"] == 3
    notes = render_notes(sets=["controller.replicaCount=3"])
    assert "only replicaCount is used: 3 brokers, the first 3 of them voters" in notes
    # controller.replicaCount is also the number of voters.
    r = render(sets=["controller.replicaCount=1", "broker.replicaCount=2"])
    assert r.get("StatefulSet")["spec"]["replicas"] == 3
    assert r.broker_config()["controller.quorum.voters"] == \
        f"0@{RELEASE}-sluice-0.{HEADLESS}.{NAMESPACE}.svc.cluster.local:9093"
    assert run_setup(r, f"{RELEASE}-sluice-1")["SLUICE_PROCESS_ROLES"] == "broker"


def test_less_common_overrides():
    r = render(["overrides.yaml"])
    chart_objects = [o for o in r.objects if o["metadata"]["name"] != f"{RELEASE}-extra"]
    assert all(o["metadata"]["labels"].get("team") == "streaming" for o in chart_objects
               if o["kind"] != "Pod")
    assert r.all("ConfigMap") and not [c for c in r.all("ConfigMap")
                                       if c["metadata"]["name"] == f"{RELEASE}-sluice-config"]
    pod = r.get("StatefulSet")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["config"]["configMap"]["name"] == "my-sluice-config"
    assert volumes["data"] == {"name": "data", "emptyDir": {}}
    assert "volumeClaimTemplates" not in r.get("StatefulSet")["spec"]
    assert [c["name"] for c in pod["containers"]] == ["sluice", "log-shipper"]
    c = r.broker_container()
    assert c["livenessProbe"] == {"tcpSocket": {"port": "tcp-client"}, "periodSeconds": 20}
    assert c["envFrom"] == [{"configMapRef": {"name": "sluice-extra-env"}}]
    term = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["brokers"]
    assert "podAntiAffinity" not in pod["affinity"]
    assert r.get("ConfigMap", f"{RELEASE}-extra")["data"] == {"note": "hello"}
    client = r.get("Service", f"{RELEASE}-sluice")
    assert client["spec"]["type"] == "LoadBalancer"
    assert client["metadata"]["annotations"]["owner"] == "platform"


def test_diagnostic_mode_sleeps_without_probes():
    c = render(sets=["diagnosticMode.enabled=true"]).broker_container()
    assert c["command"] == ["sleep"] and c["args"] == ["infinity"]
    assert not {"startupProbe", "livenessProbe", "readinessProbe"} & set(c)


def pod_config(rendered, env, data_dir):
    """The broker YAML one pod reads: the ConfigMap with ${VAR} expanded as the broker does."""
    text = rendered.get("ConfigMap", f"{RELEASE}-sluice-config")["data"]["sluice.yaml"]
    return expand(text, env).replace("/var/lib/sluice/data", data_dir)


def sluice_check(config_text, tmp_path, name):
    """`sluice serve --check` on config_text: the broker's own validation of a pod's config."""
    import subprocess
    binary = os.path.join(os.path.dirname(CHART), "..", "..", "build", "sluice")
    assert os.path.exists(binary), f"{binary} is missing: run make build (make chart-test does)"
    path = os.path.join(str(tmp_path), f"{name}.yaml")
    with open(path, "w") as f:
        f.write(config_text)
    return subprocess.run([binary, "serve", "--config", path, "--check"], capture_output=True,
                          text=True, timeout=30, env={"PATH": os.environ["PATH"]})


@pytest.mark.parametrize("replicas,voters", [(1, 0), (2, 1), (3, 3), (5, 3)])
def test_replica_count_sets_the_quorum_and_roles(tmp_path, replicas, voters):
    """The first three pods (one of two; none of one) are the metadata quorum's voters, named by
    the headless Service's records; pods after them are brokers only; the replication defaults
    follow the broker count; every pod's configuration passes the broker's own validation."""
    r = render(sets=[f"replicaCount={replicas}"])
    cfg = r.broker_config()
    rf = 3 if replicas >= 3 else replicas
    assert (cfg["default.replication.factor"], cfg["min.insync.replicas"],
            cfg["offsets.topic.replication.factor"]) == (rf, 2 if replicas >= 3 else 1, rf)
    headless = {p["name"]: p["port"] for p in r.get("Service", HEADLESS)["spec"]["ports"]}
    client = {p["name"] for p in r.get("Service", f"{RELEASE}-sluice")["spec"]["ports"]}
    ports = {p["name"]: p["containerPort"] for p in r.broker_container()["ports"]}
    assert client == {"tcp-client"}  # clients never see the controller port
    assert r.get("PodDisruptionBudget")["spec"] == {
        "maxUnavailable": 1, "selector": r.get("PodDisruptionBudget")["spec"]["selector"]}
    assert r.broker_container()["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    if voters == 0:
        # One replica: exactly the single node it always was.
        for key in ("controller.quorum.voters", "process.roles", "controller.listener.names"):
            assert key not in cfg
        assert cfg["listeners"] == "CLIENT://:9092"
        assert "tcp-controller" not in headless and "tcp-controller" not in ports
    else:
        assert cfg["controller.quorum.voters"] == ",".join(
            f"{i}@{RELEASE}-sluice-{i}.{HEADLESS}.{NAMESPACE}.svc.cluster.local:9093"
            for i in range(voters))
        assert cfg["controller.listener.names"] == "CONTROLLER"
        assert cfg["listener.security.protocol.map"] == "CLIENT:PLAINTEXT,CONTROLLER:PLAINTEXT"
        assert headless["tcp-controller"] == 9093 and ports["tcp-controller"] == 9093
        assert "CONTROLLER" not in cfg["advertised.listeners"]
    for ordinal in range(replicas):
        pod = f"{RELEASE}-sluice-{ordinal}"
        env = run_setup(r, pod)
        mine = pod_config(r, env, str(tmp_path / pod))
        pod_cfg = yaml.safe_load(mine)
        if ordinal < voters:
            assert pod_cfg["process.roles"] == "broker,controller"
            assert pod_cfg["listeners"] == "CLIENT://:9092,CONTROLLER://:9093"
        else:
            assert pod_cfg.get("process.roles", "broker") == "broker" or voters == 0
            assert pod_cfg["listeners"] == "CLIENT://:9092"
        p = sluice_check(mine, tmp_path, pod)
        assert p.returncode == 0, f"{pod}: {p.stderr}\n{mine}"


def test_scaling_out_keeps_the_quorum():
    """Going from 3 to 5 pods adds brokers; the voters, and so every voter's config, stay."""
    three = render(sets=["replicaCount=3"]).broker_config()
    five = render(sets=["replicaCount=5"]).broker_config()
    assert three["controller.quorum.voters"] == five["controller.quorum.voters"]
    notes = render_notes(sets=["replicaCount=5"])
    assert "voters are the first 3 pods" in notes and "the other pods are brokers only" in notes
    assert "partition replication is not in this version" in notes
