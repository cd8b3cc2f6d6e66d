"""The team server end to end (docs/team-server.md): the real `sextant serve`,
the Python client and the `sextant sync` / `sextant jobs` CLI, on loopback.

Faults are real: processes are SIGKILLed mid-upload and mid-job at points
named by the SEXTANT_FAULT_* variables (a test-only hook that kills the
process at that exact point), then restarted."""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

LABELS = ["negative", "neutral", "positive"]
DIM = 16


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`sextant serve --root ROOT` on a fixed loopback port, restartable."""

    def __init__(self, binary, root, port=None, env=None):
        self.binary, self.root = binary, pathlib.Path(root)
        self.port = port or free_port()
        self.env = dict(os.environ, **(env or {}))
        self.proc = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, env=None):
        e = dict(self.env, **(env or {}))
        self.proc = subprocess.Popen(
            [str(self.binary), "serve", "--root", str(self.root), "--port", str(self.port),
             "--static", str(self.root / "no-ui")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
        line = self.proc.stdout.readline()
        assert "Sextant console" in line, line + self.proc.stderr.read()
        return self

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait(timeout=30)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return json.loads(r.read())


@pytest.fixture
def server(sextant_bin, tmp_path):
    s = Server(sextant_bin, tmp_path / "server").start()
    yield s
    s.stop()


def make_data(n, seed, shift=0.0, offset=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    centers = np.eye(3, DIM) * 4
    emb = (centers[labels] + rng.normal(0, 1, (n, DIM)) + shift).astype(np.float32)
    logits = (emb[:, :3] + rng.normal(0, 0.5, (n, 3))).astype(np.float32)
    ids = [f"s{offset + i}" for i in range(n)]
    texts = [f"text {offset + i} about {LABELS[l]}" for i, l in enumerate(labels)]
    return ids, texts, labels, emb, logits


# The seed's training and inference scripts, in the shape of dataquality's;
# they read SEXTANT_CONSOLE_URL / SEXTANT_API_KEY through dq.login() only.
TRAIN = textwrap.dedent("""
    import sys, numpy as np, pandas as pd
    sys.path.insert(0, {tests!r})
    from test_team_server import make_data, LABELS
    import sextant as dq
    dq.login()
    dq.init(task_type="text_classification", project_name="team", run_name="model",
            root={root!r})
    dq.set_labels_for_run(LABELS)
    ids, texts, labels, emb, logits = make_data(400, 1)
    dq.log_dataset(pd.DataFrame({{"id": ids, "text": texts, "label": [LABELS[l] for l in labels]}}),
                   split="training")
    dq.set_split("training"); dq.set_epoch(0)
    for i in range(0, 400, 100):
        dq.log_model_outputs(embs=emb[i:i+100], logits=logits[i:i+100], ids=ids[i:i+100])
    print("REPORT", dq.finish())
""")

INFER = textwrap.dedent("""
    import os, sys, numpy as np, pandas as pd
    sys.path.insert(0, {tests!r})
    from test_team_server import make_data, LABELS
    import sextant as dq
    dq.login()
    dq.init(task_type="text_classification", project_name="team", run_name="model",
            root={root!r})
    dq.set_labels_for_run(LABELS)
    ids, texts, labels, emb, logits = make_data({n}, {seed}, shift={shift}, offset=100000)
    dq.log_dataset(pd.DataFrame({{"id": ids, "text": texts}}), split="inference",
                   inference_name={name!r})
    dq.set_split("inference", {name!r}, timestamp=os.environ.get("SET_TIME"))
    for i in range(0, {n}, 100):
        dq.log_model_outputs(embs=emb[i:i+100], logits=logits[i:i+100], ids=ids[i:i+100])
    if os.environ.get("CHECK_ONLY_LOGGED"):
        dq.flush(); os._exit(0)
    report = dq.finish()
    print("REPORT", report["uploaded"], report["upload_pending"])
    if report.get("job"):
        print("SUMMARY", dq.get_summary(split="inference", inference_name={name!r})["samples"])
""")


def run_script(code, env, timeout=300):
    e = dict(os.environ)
    for k in ("SEXTANT_CONSOLE_URL", "SEXTANT_API_KEY"):
        e.pop(k, None)
    e.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=e,
                          timeout=timeout)


def _tests_dir():
    return str(pathlib.Path(__file__).resolve().parent)


def cli(binary, *args, env=None, timeout=300):
    e = dict(os.environ)
    for k in ("SEXTANT_CONSOLE_URL", "SEXTANT_API_KEY"):
        e.pop(k, None)
    e.update(env or {})
    return subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True, env=e,
                          timeout=timeout)


def export_rows(binary, root, split):
    out = pathlib.Path(root).parent / f"export-{os.getpid()}-{time.monotonic_ns()}.jsonl"
    r = cli(binary, "export", "--root", root, "--project", "team", "--run", "model",
            "--split", split.split(":")[0], *(["--inference-name", split.split(":")[1]]
                                                if ":" in split else []),
            "--format", "jsonl", "--output", out)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    return sorted(rows, key=lambda row: row["id"])


def export_ids(binary, root, split):
    return [row["id"] for row in export_rows(binary, root, split)]


def train_on_server(server, tmp_path):
    local = tmp_path / "trainer"
    r = run_script(TRAIN.format(tests=_tests_dir(), root=str(local)),
                   {"SEXTANT_CONSOLE_URL": server.url})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Finished uploading 400 samples" in r.stdout, r.stdout
    return local


def test_seed_script_uploads_and_appears_next_to_its_training_run(server, tmp_path, sextant_bin):
    train_on_server(server, tmp_path)
    r = run_script(INFER.format(tests=_tests_dir(), root=str(tmp_path / "prod"), n=300, seed=2,
                                shift=3.0, name="prod"),
                   {"SEXTANT_CONSOLE_URL": server.url})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Finished uploading 300 samples" in r.stdout
    assert "SUMMARY 300" in r.stdout
    runs = server.get("/api/runs")["runs"]
    (run,) = [x for x in runs if x["project"] == "team" and x["run"] == "model"]
    assert run["uploaded_by"] == "local" and run["uploaded_at"] > 0
    assert run["job"]["state"] == "done"
    summary = server.get("/api/runs/team/model/summary?split=inference:prod")
    assert summary["samples"] == 300
    # Shifted by 3 in every dimension: the drift result says so.
    assert summary["drifted"]["fraction"] > 0.2, summary["drifted"]  # nominal: 0.05
    assert export_ids(sextant_bin, server.root, "inference:prod") == sorted(
        f"s{100000 + i}" for i in range(300))


def test_set_times_travel_to_the_server_timeline(server, tmp_path):
    train_on_server(server, tmp_path)
    for name, when in (("later", "2026-12-02"), ("earlier", "2026-12-01T12:00:00Z")):
        r = run_script(INFER.format(tests=_tests_dir(), root=str(tmp_path / name), n=200, seed=3,
                                    shift=0.0, name=name),
                       {"SEXTANT_CONSOLE_URL": server.url, "SET_TIME": when})
        assert r.returncode == 0, r.stdout + r.stderr
    t = server.get("/api/runs/team/model/timeline")
    assert [(s["name"], s["time_iso"], s["time_source"]) for s in t["sets"]] == [
        ("earlier", "2026-12-01T12:00:00Z", "given"), ("later", "2026-12-02T00:00:00Z", "given")]


def test_same_script_without_a_server_runs_embedded(tmp_path, sextant_bin):
    local = tmp_path / "embedded"
    r = run_script(TRAIN.format(tests=_tests_dir(), root=str(local)), {})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Finished uploading" not in r.stdout
    r = run_script(INFER.format(tests=_tests_dir(), root=str(local), n=200, seed=2, shift=3.0,
                                name="prod"), {})
    assert r.returncode == 0, r.stdout + r.stderr
    assert export_ids(sextant_bin, local, "inference:prod") == sorted(
        f"s{100000 + i}" for i in range(200))


def test_wrong_labels_are_refused_naming_both_lists(server, tmp_path):
    train_on_server(server, tmp_path)
    code = INFER.format(tests=_tests_dir(), root=str(tmp_path / "prod"), n=100, seed=2, shift=0,
                        name="prod").replace("dq.set_labels_for_run(LABELS)",
                                             "dq.set_labels_for_run(['a', 'b', 'c'])")
    r = run_script(code, {"SEXTANT_CONSOLE_URL": server.url})
    assert r.returncode != 0
    assert "label list ['a', 'b', 'c'] differs" in r.stderr and "'negative'" in r.stderr


def test_client_killed_mid_upload_then_sync_lands_exactly_once(server, tmp_path, sextant_bin):
    train_on_server(server, tmp_path)
    prod = tmp_path / "prod"
    # Enough data for many chunks: 6000 x 16 floats is small, so cut chunks finer.
    code = INFER.format(tests=_tests_dir(), root=str(prod), n=3000, seed=3, shift=0.5, name="p")
    r = run_script(code, {"SEXTANT_CONSOLE_URL": server.url,
                          "SEXTANT_FAULT_CLIENT_KILL_AFTER_CHUNKS": "1",
                          "SEXTANT_TEST_CHUNK_BYTES": "4096"})
    assert r.returncode == -signal.SIGKILL, r.stdout + r.stderr
    assert "Finished uploading" not in r.stdout
    s = cli(sextant_bin, "sync", "--root", prod, "--url", server.url,
            env={"SEXTANT_TEST_CHUNK_BYTES": "4096"})
    assert s.returncode == 0, s.stderr
    assert "1 uploads, 3000 samples" in s.stdout, s.stdout
    # Again: nothing more to send, nothing duplicated.
    s = cli(sextant_bin, "sync", "--root", prod, "--url", server.url,
            env={"SEXTANT_TEST_CHUNK_BYTES": "4096"})
    assert s.returncode == 0 and "uploads" not in s.stdout.replace("in sync", ""), s.stdout
    w = cli(sextant_bin, "jobs", "--url", server.url, "--project", "team", "--run", "model",
            "--wait", "300")
    assert w.returncode == 0, w.stderr
    assert export_ids(sextant_bin, server.root, "inference:p") == sorted(
        f"s{100000 + i}" for i in range(3000))


def test_server_down_during_the_whole_job_nothing_lost(tmp_path, sextant_bin):
    s = Server(sextant_bin, tmp_path / "server").start()
    train_on_server(s, tmp_path)
    s.stop()
    prod = tmp_path / "prod"
    r = run_script(INFER.format(tests=_tests_dir(), root=str(prod), n=500, seed=4, shift=0.0,
                                name="night"),
                   {"SEXTANT_CONSOLE_URL": s.url, "SEXTANT_RETRY_SECONDS": "1"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "REPORT False True" in r.stdout
    assert "cannot be reached" in r.stdout and "sextant sync" in r.stdout
    s.start()
    try:
        sy = cli(sextant_bin, "sync", "--root", prod, "--url", s.url)
        assert sy.returncode == 0, sy.stderr
        assert "500 samples" in sy.stdout
        w = cli(sextant_bin, "jobs", "--url", s.url, "--project", "team", "--run", "model",
                "--wait", "300")
        assert w.returncode == 0, w.stderr
        assert export_ids(sextant_bin, s.root, "inference:night") == sorted(
            f"s{100000 + i}" for i in range(500))
    finally:
        s.stop()


def test_server_killed_mid_upload_resumes_without_resending(tmp_path, sextant_bin):
    s = Server(sextant_bin, tmp_path / "server").start()
    train_on_server(s, tmp_path)
    s.stop()
    prod = tmp_path / "prod"
    chunk_env = {"SEXTANT_TEST_CHUNK_BYTES": "4096"}
    r = run_script(INFER.format(tests=_tests_dir(), root=str(prod), n=2000, seed=5, shift=0.0,
                                name="p") .replace("report = dq.finish()", "dq.flush(); os._exit(0)"),
                   {**chunk_env})
    assert r.returncode == 0, r.stderr
    # The server dies while writing its 5th chunk.
    s.start(env={"SEXTANT_FAULT_SERVER_KILL_AT_CHUNK": "5"})
    first = cli(sextant_bin, "sync", "--root", prod, "--url", s.url,
                env={**chunk_env, "SEXTANT_RETRY_SECONDS": "1"})
    assert first.returncode != 0
    s.proc.wait(timeout=30)
    assert s.proc.returncode == -signal.SIGKILL
    s.start()
    try:
        again = cli(sextant_bin, "sync", "--root", prod, "--url", s.url, env=chunk_env)
        assert again.returncode == 0, again.stderr
        held = int(re.search(r"\((\d+) chunks held already\)", again.stdout).group(1))
        assert held == 4, again.stdout  # the 4 written before the kill; the 5th is sent again
        w = cli(sextant_bin, "jobs", "--url", s.url, "--project", "team", "--run", "model",
                "--wait", "300")
        assert w.returncode == 0, w.stderr
        assert export_ids(sextant_bin, s.root, "inference:p") == sorted(
            f"s{100000 + i}" for i in range(2000))
    finally:
        s.stop()


def results_of(binary, root, split):
    return export_rows(binary, root, f"inference:{split}")


def test_server_killed_mid_job_reruns_it_with_equal_results(tmp_path, sextant_bin):
    prod = tmp_path / "prod"
    r = run_script(INFER.format(tests=_tests_dir(), root=str(prod), n=600, seed=6, shift=1.0,
                                name="p").replace("report = dq.finish()", "dq.flush(); os._exit(0)"),
                   {})
    assert r.returncode == 0, r.stderr
    outcomes = []
    for name, fault in (("plain", {}), ("killed", {"SEXTANT_FAULT_SERVER_KILL_AT_STAGE": "2-D map"})):
        s = Server(sextant_bin, tmp_path / f"server-{name}").start()
        try:
            train_on_server(s, tmp_path / name)
            s.stop()
            s.start(env=fault)
            # A copy of the local production run per server (each keeps its own upload state).
            local = tmp_path / f"prod-{name}"
            subprocess.run(["cp", "-a", str(prod), str(local)], check=True)
            sy = cli(sextant_bin, "sync", "--root", local, "--url", s.url)
            assert sy.returncode == 0, sy.stderr
            if fault:
                s.proc.wait(timeout=300)  # killed inside the job's map stage
                assert s.proc.returncode == -signal.SIGKILL
                s.start()
            w = cli(sextant_bin, "jobs", "--url", s.url, "--project", "team", "--run", "model",
                    "--wait", "300")
            assert w.returncode == 0, w.stderr
            jobs = s.get("/api/runs/team/model/jobs")["jobs"]
            assert jobs[0]["state"] == "done"
            if fault:
                assert jobs[0]["attempts"] == 2
            outcomes.append(results_of(sextant_bin, s.root, "p"))
        finally:
            s.stop()
    assert outcomes[0] == outcomes[1]
    assert len(outcomes[0]) == 600


def test_two_inference_jobs_upload_at_once_and_both_land(server, tmp_path, sextant_bin):
    train_on_server(server, tmp_path)
    procs = [subprocess.Popen(
        [sys.executable, "-c", INFER.format(tests=_tests_dir(), root=str(tmp_path / f"job{k}"),
                                             n=300, seed=10 + k, shift=0.0, name=f"set{k}")
         .replace("offset=100000", f"offset={200000 + 1000 * k}")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, SEXTANT_CONSOLE_URL=server.url)) for k in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, out + err
        assert "Finished uploading 300 samples" in out
    for k in range(2):
        assert len(export_ids(sextant_bin, server.root, f"inference:set{k}")) == 300


def create_key(binary, root, name, role, *projects):
    r = cli(binary, "keys", "create", "--root", root, "--name", name, "--role", role,
            *[a for p in projects for a in ("--project", p)])
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_keys_name_the_uploader_and_limit_who_may_upload(sextant_bin, tmp_path):
    root = tmp_path / "server"
    trainer = create_key(sextant_bin, root, "trainer", "write", "team")
    reader = create_key(sextant_bin, root, "dashboards", "read")
    elsewhere = create_key(sextant_bin, root, "other-team", "write", "other")
    s = Server(sextant_bin, root).start()
    try:
        # A wrong key: login says so, naming no key or project.
        login = "import sextant as dq; dq.login(url={url!r}, api_key={key!r})"
        r = run_script(login.format(url=s.url, key="sxk_0_wrong"), {})
        assert r.returncode != 0 and "UnauthenticatedError" in r.stderr, r.stderr
        r = run_script(TRAIN.format(tests=_tests_dir(), root=str(tmp_path / "t")),
                       {"SEXTANT_CONSOLE_URL": s.url, "SEXTANT_API_KEY": trainer})
        assert r.returncode == 0, r.stdout + r.stderr
        req = urllib.request.Request(s.url + "/api/runs",
                                     headers={"Authorization": f"Bearer {reader}"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            (run,) = json.loads(resp.read())["runs"]
        assert run["uploaded_by"] == "trainer"
        # A read key and another project's key cannot upload: 403, and nothing lands.
        for key, name in ((reader, "ro"), (elsewhere, "xp")):
            r = run_script(INFER.format(tests=_tests_dir(), root=str(tmp_path / name), n=100,
                                        seed=7, shift=0, name=name),
                           {"SEXTANT_CONSOLE_URL": s.url, "SEXTANT_API_KEY": key})
            assert r.returncode != 0 and "PermissionDeniedError" in r.stderr, r.stderr
            assert "text " not in r.stderr  # no sample text in the refusal
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(s.url + "/api/runs", timeout=30)
        assert e.value.code == 401
    finally:
        s.stop()
