"""Renders the chart with the helm and k8s-validate that scripts/install-deps builds into
build/tools (pinned Go modules): used by the chart tests here and by the StatefulSet stand-in
in tests/integration/test_kubernetes_standin.py."""
import functools
import os
import shutil
import subprocess
import tempfile

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHART = os.path.join(ROOT, "deploy", "helm", "sluice")
VALUES_DIR = os.path.join(os.path.dirname(__file__), "values")
TOOLS = os.path.join(ROOT, "build", "tools")
HELM = os.environ.get("HELM", os.path.join(TOOLS, "helm"))
VALIDATE = os.environ.get("K8S_VALIDATE", os.path.join(TOOLS, "k8s-validate"))
# The Kubernetes version every render and lint is pinned to (the chart needs >= 1.23).
KUBE_VERSION = "1.34.0"
RELEASE = "sl"
NAMESPACE = "streaming"


def _require(path):
    assert os.access(path, os.X_OK), f"{path} is missing: run scripts/install-deps"
    return path


def helm(*args, check=True):
    r = subprocess.run([_require(HELM), *args], capture_output=True, text=True, timeout=120)
    if check:
        assert r.returncode == 0, f"helm {' '.join(args)}:\n{r.stdout}{r.stderr}"
    return r


def values_file(name):
    return os.path.join(VALUES_DIR, name)


def render_text(values=None, sets=(), chart=CHART, check=True):
    """helm template output for the values files (names under tests/helm/values) and --set pairs."""
    return _render_text(tuple(values or ()), tuple(sets), chart, check)


@functools.lru_cache(maxsize=None)
def _render_text(values, sets, chart, check):
    """The same render is asked for by several tests: helm runs once per distinct one."""
    args = ["template", RELEASE, chart, "--namespace", NAMESPACE, "--kube-version", KUBE_VERSION]
    for v in values or []:
        args += ["-f", values_file(v) if not os.path.isabs(v) else v]
    for s in sets:
        args += ["--set", s]
    return helm(*args, check=check)


def validate(text):
    """Runs k8s-validate on rendered manifests; returns (exit code, output)."""
    r = subprocess.run([_require(VALIDATE)], input=text, capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


class Rendered:
    """The objects of one render, by kind and name."""

    def __init__(self, text):
        self.text = text
        self.objects = [d for d in yaml.safe_load_all(text) if d]

    def all(self, kind):
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind, name=None):
        found = [o for o in self.all(kind) if name is None or o["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
        return found[0]

    def broker_config(self):
        return yaml.safe_load(self.get("ConfigMap", f"{RELEASE}-sluice-config")["data"]["sluice.yaml"])

    def script(self, name):
        return self.get("ConfigMap", f"{RELEASE}-sluice-scripts")["data"][name]

    def broker_container(self):
        sts = self.get("StatefulSet")
        return next(c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "sluice")


def render(values=None, sets=()):
    return Rendered(render_text(values, sets).stdout)


def render_notes(values=None, sets=()):
    """NOTES.txt as helm install would print it (helm template does not render it, so a copy of
    the chart wraps it in a ConfigMap)."""
    with tempfile.TemporaryDirectory() as d:
        chart = os.path.join(d, "sluice")
        shutil.copytree(CHART, chart)
        with open(os.path.join(chart, "templates", "zz-notes.yaml"), "w") as f:
            f.write("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rendered-notes\ndata:\n"
                    "  NOTES.txt: |\n"
                    '{{ include (print $.Template.BasePath "/NOTES.txt") . | indent 4 }}\n')
        text = render_text(values, sets, chart=chart).stdout
    return Rendered(text).get("ConfigMap", "rendered-notes")["data"]["NOTES.txt"]

