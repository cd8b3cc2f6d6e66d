"""dq.log_live against the real `sextant serve`: batches in the background, the
server down (spooled under the store root) then up (replayed in order), nothing
lost, nothing stored twice, scores readable from GET .../live."""

from __future__ import annotations

import json
import pathlib
import socket
import sqlite3
import subprocess
import time
import urllib.request

import numpy as np
import pytest

import sextant as dq
from sextant import _live

from conftest import LABELS, log_split, make_data


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Serve:
    def __init__(self, binary, root, port, *extra):
        self.proc = subprocess.Popen([str(binary), "serve", "--root", str(root), "--port",
                                      str(port), *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("sextant serve did not start: " + self.proc.stderr.read())
        self.base = line.split()[2].rstrip("/")

    def get(self, path):
        with urllib.request.urlopen(self.base + path, timeout=30) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)


@pytest.fixture
def trained(root):
    """A finished training run p/r (300 samples, width 16)."""
    dq.init(task_type="text_classification", project_name="p", run_name="r", root=root)
    dq.set_labels_for_run(LABELS)
    log_split("training", make_data(300, "t", 1))
    dq.finish(drift_k=5)
    yield root
    _live.close_live()


def live_set(server, name):
    for s in server.get("/api/runs/p/r/live")["sets"]:
        if s["name"] == name:
            return s
    return None


def wait_for(cond, seconds=60):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def test_log_live_spools_while_the_server_is_down_and_replays_when_it_is_up(trained, sextant_bin):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    d = make_data(400, "q", 5)
    opts = dict(url=url, project_name="p", run_name="r", root=str(trained), batch_size=64,
                max_backoff=0.5)
    # Server down: the calls return at once and the batches go to the spool.
    start = time.monotonic()
    for b in range(0, 200, 50):
        assert dq.log_live(ids=d["ids"][b:b + 50], texts=d["texts"][b:b + 50],
                           embs=d["embs"][b:b + 50], logits=d["logits"][b:b + 50],
                           inference_name="prod", **opts)
    assert time.monotonic() - start < 5
    spool = pathlib.Path(trained) / ".live-spool" / "p" / "r"
    assert wait_for(lambda: sum(int(p.stem.rsplit("-", 1)[1])
                                for p in spool.glob("*.json")) == 200)
    assert not dq.flush_live(timeout=1)

    server = Serve(sextant_bin, trained, port)
    try:
        assert dq.flush_live(timeout=120)
        assert not list(spool.glob("*.json"))
        # Up: the rest goes straight through (logits as lists this time).
        for b in range(200, 400, 50):
            assert dq.log_live(ids=d["ids"][b:b + 50], texts=d["texts"][b:b + 50],
                               embs=d["embs"][b:b + 50], logits=d["logits"][b:b + 50].tolist(),
                               inference_name="prod", **opts)
        assert dq.flush_live(timeout=120)
        assert wait_for(lambda: (live_set(server, "prod") or {}).get("samples_ingested") == 400)
        s = live_set(server, "prod")
        assert s["samples_scored"] == 400
        assert s["samples_failed"] == 0
        assert 0 <= s["drifted_share"] <= 1
        assert 0 < s["mean_confidence"] <= 1
        stats = next(iter(dq.live_stats().values()))
        assert stats["samples_sent"] == 400
        assert stats["samples_spooled"] == 200
        assert stats["samples_replayed"] == 200
        assert stats["samples_dropped"] == 0 and stats["samples_rejected"] == 0
    finally:
        server.stop()
    # Every id once, in the order logged (the spooled ones first).
    db = sqlite3.connect(pathlib.Path(trained) / "p" / "r" / "sextant.db")
    ids = [row[0] for row in db.execute(
        "SELECT id FROM samples WHERE split = 'inference:prod' ORDER BY row")]
    assert ids == d["ids"]
    live = db.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM live_results "
                      "WHERE split = 'inference:prod'").fetchone()
    assert live == (400, 400)


def test_a_replayed_batch_the_server_already_stored_is_not_stored_twice(trained, sextant_bin):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    d = make_data(20, "z", 6)
    server = Serve(sextant_bin, trained, port)
    try:
        opts = dict(url=url, project_name="p", run_name="r", root=str(trained))
        assert dq.log_live(ids=d["ids"], texts=d["texts"], embs=d["embs"], logits=d["logits"],
                           inference_name="prod", **opts)
        assert dq.flush_live(timeout=60)
        # The same batch spooled again (a reply lost after the server took it).
        logger = next(iter(_live._loggers.values()))
        body = logger._body([(d["ids"], d["texts"], np.asarray(d["embs"], "<f4"),
                              np.asarray(d["logits"], "<f4"), "prod", None, None)])[1]
        logger._write_spool(body, 20)
        assert dq.flush_live(timeout=60)
        assert wait_for(lambda: (live_set(server, "prod") or {}).get("samples_ingested") == 20)
        time.sleep(0.5)
        assert live_set(server, "prod")["samples_ingested"] == 20
    finally:
        server.stop()


def test_log_live_never_raises_into_the_caller(trained):
    # No server configured, wrong shapes: False, not an exception.
    assert dq.log_live(ids=["a"], texts=["x"], embs=[[0.0] * 16], logits=[[0.0] * 3],
                       project_name="p", run_name="r") is False
    assert dq.log_live(ids=["a", "b"], texts=["x"], embs=[[0.0] * 16], logits=[[0.0] * 3],
                       url="http://127.0.0.1:9", project_name="p", run_name="r",
                       root=str(trained)) is False


def test_a_full_queue_drops_and_counts_instead_of_blocking(trained):
    d = make_data(50, "f", 7)
    url = f"http://127.0.0.1:{free_port()}"
    assert dq.log_live(ids=d["ids"][:10], texts=d["texts"][:10], embs=d["embs"][:10],
                       logits=d["logits"][:10], inference_name="prod", url=url,
                       project_name="p", run_name="r", root=str(trained),
                       max_queue_samples=10, linger=5.0)
    start = time.monotonic()
    assert not dq.log_live(ids=d["ids"][10:], texts=d["texts"][10:], embs=d["embs"][10:],
                           logits=d["logits"][10:], inference_name="prod", url=url,
                           project_name="p", run_name="r", root=str(trained))
    assert time.monotonic() - start < 1
    stats = dq.live_stats()[f"{url} p/r"]
    assert stats["samples_dropped"] == 40
