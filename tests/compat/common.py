"""What every client suite of the compatibility gate shares: fetching a Debian source package,
starting build/sluice for a suite, running one command with a deadline, and the result model.

Nothing fetched here is committed: sources land under build/compat/ (see docs/compatibility.md)."""
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass, field

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from conftest import Broker  # noqa: E402  (the integration tests' own way to run build/sluice)

WORK = os.path.join(ROOT, "build", "compat")
DEB_SRC_LIST = "/etc/apt/sources.list.d/sluice-compat-src.sources"

PASS, FAIL, SKIP = "pass", "fail", "skip"

# Suites prepare side by side; apt (the sources list, apt-get update, the download folder) is
# used by one of them at a time.
_apt_lock = threading.Lock()


@dataclass
class Result:
    name: str
    status: str  # PASS, FAIL or SKIP
    seconds: float = 0.0
    detail: str = ""  # skip reason, or the tail of a failure's output
    attempts: int = 1


@dataclass
class SuiteReport:
    suite: str
    version: str
    results: list = field(default_factory=list)
    prepare_seconds: float = 0.0
    run_seconds: float = 0.0
    error: str = ""  # set when the suite could not be fetched, built or started


def log(msg):
    print(f"compat: {msg}", flush=True)


def run_logged(cmd, cwd, log_path, env=None, timeout=None):
    """Runs a build step, its output to log_path; raises with the log's tail when it fails."""
    with open(log_path, "w") as out:
        proc = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        with open(log_path, errors="replace") as f:
            tail = f.read()[-3000:]
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode} (log {log_path}):\n{tail}")


def run_with_deadline(cmd, cwd, env, timeout_s, log_path, stdin=subprocess.DEVNULL):
    """Runs one test command in its own process group; kills the whole group at the deadline.
    Returns (exit code or None on timeout, output text)."""
    with open(log_path, "w+") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=stdin, start_new_session=True)
        try:
            rc = proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            rc = None
        out.seek(0)
        return rc, out.read()


def ensure_deb_src():
    """Adds deb-src entries mirroring the machine's own deb sources (same mirrors, suites and
    keys), once; apt-get source needs them."""
    if os.path.exists(DEB_SRC_LIST):
        return
    stanzas = []
    deb822 = "/etc/apt/sources.list.d/debian.sources"
    if os.path.exists(deb822):
        with open(deb822) as f:
            for stanza in f.read().split("\n\n"):
                if re.search(r"^Types:.*\bdeb\b", stanza, re.M):
                    stanzas.append(re.sub(r"^Types:.*$", "Types: deb-src", stanza, flags=re.M).strip())
    if os.path.exists("/etc/apt/sources.list"):
        with open("/etc/apt/sources.list") as f:
            for line in f:
                m = re.match(r"^deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.+)$", line.strip())
                if m:
                    stanzas.append(f"Types: deb-src\nURIs: {m.group(2)}\nSuites: {m.group(3)}\n"
                                   f"Components: {m.group(4)}")
    if not stanzas:
        raise RuntimeError("no deb entries in the apt sources to derive deb-src entries from")
    with open(DEB_SRC_LIST, "w") as f:
        f.write("# Written by tests/compat (make compat): source packages for the client suites.\n")
        f.write("\n\n".join(stanzas) + "\n")
    subprocess.run(["apt-get", "update", "-qq"], check=True)


def _dsc_checksums(dsc_path):
    """{file name: sha256} from a .dsc's Checksums-Sha256 field."""
    sums, inside = {}, False
    with open(dsc_path) as f:
        for line in f:
            if line.startswith("Checksums-Sha256:"):
                inside = True
            elif inside and line.startswith(" "):
                digest, _size, name = line.split()
                sums[name] = digest
            elif inside:
                break
    return sums


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def debian_upstream_source(package, version, dest):
    """Unpacks the upstream tarball of Debian source package `package` (upstream `version`) into
    dest (once) and returns dest. apt-get source may exit non-zero because the Debian packaging
    tarball answers 404 while the .orig tarball arrived: the .orig is used when its SHA-256 matches
    the .dsc's."""
    if os.path.exists(os.path.join(dest, ".unpacked")):
        return dest
    with _apt_lock:
        orig = _download_orig(package, version)
    shutil.rmtree(dest, ignore_errors=True)
    _unpack(orig, dest)
    return dest


def _download_orig(package, version):
    """The verified path of the package's .orig tarball (downloaded once)."""
    ensure_deb_src()
    dl = os.path.join(WORK, "debian-src")
    os.makedirs(dl, exist_ok=True)
    dscs = [f for f in os.listdir(dl) if f.startswith(f"{package}_{version}") and f.endswith(".dsc")]
    if not dscs or not any(".orig.tar." in f for f in os.listdir(dl) if f.startswith(f"{package}_")):
        proc = subprocess.run(["apt-get", "source", "--download-only", f"{package}"], cwd=dl,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            log(f"apt-get source {package} exited {proc.returncode}; checking the .orig tarball "
                f"against the .dsc ({proc.stderr.strip().splitlines()[-1:]})")
        dscs = [f for f in os.listdir(dl) if f.startswith(f"{package}_{version}") and f.endswith(".dsc")]
    if not dscs:
        raise RuntimeError(f"apt-get source {package}: no .dsc for upstream version {version}")
    sums = _dsc_checksums(os.path.join(dl, sorted(dscs)[-1]))
    origs = [n for n in sums if ".orig.tar." in n and not n.endswith(".asc")]
    if not origs:
        raise RuntimeError(f"{package}: the .dsc names no .orig tarball")
    orig = os.path.join(dl, origs[0])
    if not os.path.exists(orig):
        raise RuntimeError(f"{package}: {origs[0]} was not served by the Debian mirror")
    if _sha256(orig) != sums[origs[0]]:
        os.remove(orig)
        raise RuntimeError(f"{package}: {origs[0]} does not match the .dsc's SHA-256")
    return orig


def _unpack(orig, dest):
    os.makedirs(dest)
    with tarfile.open(orig) as tar:
        top = os.path.commonpath([m.name for m in tar.getmembers()])
        tar.extractall(dest, filter="data")
    # The tarball has one top folder; the suite works from its contents.
    inner = os.path.join(dest, top)
    for name in os.listdir(inner):
        os.rename(os.path.join(inner, name), os.path.join(dest, name))
    os.rmdir(inner)
    open(os.path.join(dest, ".unpacked"), "w").close()


_GO_TEST_RESULT = re.compile(r"^--- (PASS|FAIL|SKIP): (\S+) \(([\d.]+)s\)")


def run_go_test_binary(binary, pattern_flags, package_dir, env, timeout_s, log_path):
    """Runs a `go test -c` binary once (verbose, in the package's folder, as `go test` does);
    returns {top-level test name: Result}."""
    cmd = [binary, "-test.v", "-test.count=1", f"-test.timeout={timeout_s}s"] + pattern_flags
    start = time.monotonic()
    rc, out = run_with_deadline(cmd, package_dir, env, timeout_s + 60, log_path)
    results = {}
    for line in out.splitlines():
        m = _GO_TEST_RESULT.match(line)  # top-level tests only: subtests are indented
        if m:
            status = {"PASS": PASS, "FAIL": FAIL, "SKIP": SKIP}[m.group(1)]
            results[m.group(2)] = Result(m.group(2), status, float(m.group(3)),
                                         _go_test_reason(out, m.group(2)) if status != PASS else "")
    # A test that never reported (a panic or the deadline ended the binary) failed.
    for name in re.findall(r"^=== RUN\s+(\w+)$", out, re.M):
        if name not in results:
            results[name] = Result(name, FAIL, time.monotonic() - start,
                                   f"no result within {timeout_s} s (binary exited {rc})")
    return results


def _go_test_reason(out, name):
    """What the test logged about itself: parallel tests print their log lines just before their
    own --- FAIL/SKIP line, sequential ones just after it."""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if re.match(rf"^--- \w+: {re.escape(name)} ", line):
            before, j = [], i - 1
            while j >= 0 and lines[j].startswith("    ") and not lines[j].lstrip().startswith("---"):
                before.insert(0, lines[j].strip())
                j -= 1
            after = []
            for k in range(i + 1, len(lines)):
                if not lines[k].startswith("    "):
                    break
                after.append(lines[k].strip())
            return " / ".join(before + after)[:300]
    return ""


def start_sluice(suite, extra_yaml=""):
    """A fresh build/sluice for one suite: its own data folder, 127.0.0.1, port chosen by the OS."""
    workdir = tempfile.mkdtemp(prefix=f"sluice-{suite}-", dir=WORK)
    node_id = "" if "node.id:" in extra_yaml else "node.id: 1\n"
    config = (f"{node_id}"
              f"log.dirs: {os.path.join(workdir, 'data')}\n"
              f"listeners: PLAINTEXT://127.0.0.1:0\n" + extra_yaml)
    return Broker(config, workdir)


def stop_sluice(broker):
    """Stops the suite's broker; a crash or an unclean exit is itself a failure of the gate."""
    rc = broker.stop()
    if rc != 0:
        return f"build/sluice exited {rc}; its log ends:\n" + broker.log_text()[-3000:]
    shutil.rmtree(broker.workdir, ignore_errors=True)
    return ""


def load_known_failures(suite):
    """tests/compat/known/<suite>.txt: `test-name  reason` per line, # comments."""
    known = {}
    path = os.path.join(ROOT, "tests", "compat", "known", f"{suite}.txt")
    if not os.path.exists(path):
        return known
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, _, reason = line.partition(" ")
            known[name] = reason.strip() or "(no reason given)"
    return known
