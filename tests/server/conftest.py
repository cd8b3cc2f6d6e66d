"""Fixtures for the API tests: a small run made with the real `sextant` CLI, and
the real `sextant serve` started on a free port over it.

The binary comes from $SEXTANT_BIN (CTest sets it). Everything is written under
pytest's temporary folders.
"""

import csv
import importlib.util
import json
import os
import pathlib
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]

# The end-to-end tests' data maker (tests/e2e/conftest.py), loaded under another name.
_spec = importlib.util.spec_from_file_location("e2e_conftest", REPO / "tests" / "e2e" / "conftest.py")
e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(e2e)

LABELS = e2e.LABELS
PROJECT, RUN = "proj", "console"
N_TRAIN, N_VAL, N_PROD = 300, 90, 120


def sextant_binary():
    path = os.environ.get("SEXTANT_BIN", "")
    if path:
        return pathlib.Path(path)
    for c in ["build/src/cli/sextant"]:
        if (REPO / c).is_file():
            return REPO / c
    pytest.fail("the sextant binary was not found; set SEXTANT_BIN or run through CTest")


def add_column(path, name, values):
    """Adds a metadata column to a CSV data file."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    rows[0].append(name)
    for row, v in zip(rows[1:], values):
        row.append(v)
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)


@pytest.fixture(scope="session")
def store(tmp_path_factory):
    """A finished run: training (with a `source` metadata column), validation and
    two inference sets, one of them shifted (drifted)."""
    base = tmp_path_factory.mktemp("server")
    cli = e2e.Sextant(sextant_binary(), base / "store")
    dm = e2e.DataMaker(base / "data")
    train = dm.write("train", N_TRAIN, seed=11, id_prefix="tr-")
    add_column(train.data, "source", ["web" if i % 3 else "app" for i in range(N_TRAIN)])
    val = dm.write("val", N_VAL, seed=21, id_prefix="va-")
    shifted = dm.write("shifted", N_PROD, seed=31, shift=3.0, labeled=False, id_prefix="ps-")
    same = dm.write("same", N_PROD, seed=41, labeled=False, id_prefix="pn-")
    cli.import_split(PROJECT, RUN, train, "training")
    cli.import_split(PROJECT, RUN, val, "validation", labels=None)
    cli.import_split(PROJECT, RUN, shifted, "inference", inference_name="shifted", labels=None)
    cli.import_split(PROJECT, RUN, same, "inference", inference_name="same", labels=None, finish=True)
    return {"cli": cli, "root": cli.root, "base": base,
            "data": {"training": train, "validation": val, "inference:shifted": shifted,
                     "inference:same": same}}


class Served:
    """A running `sextant serve` and a small JSON client for it."""

    def __init__(self, args, env=None, token=None):
        self.token = token
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen([str(sextant_binary()), "serve", *map(str, args)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=full_env)
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read()
            raise RuntimeError(f"sextant serve did not start: {err}")
        self.base = line.split()[2].rstrip("/")  # "Sextant console: http://127.0.0.1:PORT/ ..."
        parsed = urllib.parse.urlparse(self.base)
        self.host, self.port = parsed.hostname, parsed.port

    def url(self, path, params=None):
        q = ""
        if params:
            q = "?" + urllib.parse.urlencode(params, doseq=True)
        return self.base + path + q

    def request(self, method, path, params=None, body=None, headers=None, auth=True):
        data = None if body is None else json.dumps(body).encode()
        h = {"Content-Type": "application/json"} if body is not None else {}
        if auth and self.token:
            h["Authorization"] = f"Bearer {self.token}"
        h.update(headers or {})
        req = urllib.request.Request(self.url(path, params), data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def get(self, path, params=None, expect=200, **kw):
        status, headers, body = self.request("GET", path, params, **kw)
        assert status == expect, (status, body[:500])
        return json.loads(body) if headers.get("Content-Type", "").startswith("application/json") else body

    def post(self, path, body, params=None, expect=200, **kw):
        status, headers, data = self.request("POST", path, params, body=body, **kw)
        assert status == expect, (status, data[:500])
        return json.loads(data)

    def raw(self, target):
        """Sends `GET target` exactly as written (no client-side normalisation)."""
        with socket.create_connection((self.host, self.port), timeout=10) as s:
            s.sendall(f"GET {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                      "Connection: close\r\n\r\n".encode())
            chunks = []
            while True:
                c = s.recv(65536)
                if not c:
                    break
                chunks.append(c)
        head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
        return int(head.split()[1]), body

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="session")
def static_dir(tmp_path_factory):
    """A fake console build, with a secret file next to it and a symlink out of it."""
    base = tmp_path_factory.mktemp("static")
    dist = base / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>console</title>")
    (dist / "assets" / "app.js").write_text("console.log('app')")
    (base / "secret.txt").write_text("TOP SECRET")
    (dist / "link.txt").symlink_to(base / "secret.txt")
    return dist


@pytest.fixture(scope="session")
def server(store, static_dir):
    s = Served(["--root", store["root"], "--port", 0, "--static", static_dir])
    yield s
    s.stop()


def api(project=PROJECT, run=RUN):
    return f"/api/runs/{project}/{run}"
