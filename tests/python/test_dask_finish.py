"""A distributed finish on a Dask LocalCluster of 2 worker processes
(docs/distributed.md): for every task type the results are those of a
single-machine finish of a copy of the run, bit for bit (per-sample results,
result files, summaries without their timings); a worker killed mid-scoring
is replaced and its task rerun; a sharded training reference equals the
unsharded one; the CLI's `sextant finish --dask` runs the same driver."""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

import sextant as dq  # noqa: E402
from sextant import _api, _core  # noqa: E402
from sextant.dask import FAULT_KILL_ENV, DaskShardExecutor, open_client, parse_memory  # noqa: E402

from conftest import LABELS, log_split, make_data  # noqa: E402

N_TRAIN, N_VAL, N_INF, WIDTH = 6000, 1000, 40000, 16
# Small enough to run quickly, large enough that every stage has shard tasks
# on both workers: 40,000 inference rows are 3 shards of 16,384; the map lays
# out 4,000 points and places the others.
OPTIONS = {"shard_rows": 16384, "map_max_points": 4000}


def _cluster(**env):
    from distributed import LocalCluster
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the worker processes inherit it when they start
    try:
        return LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                            dashboard_address=None)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def cluster():
    c = _cluster()
    client = distributed.Client(c)
    yield client
    client.close()
    c.close()


# ---- runs of every task type, logged and closed without finishing ----------------


def _tc_run(root, run="tc"):
    dq.init(task_type="text_classification", project_name="p", run_name=run, root=root)
    dq.set_labels_for_run(LABELS)
    log_split("training", make_data(N_TRAIN, "t", 1, dim=WIDTH), batch=4096)
    log_split("validation", make_data(N_VAL, "v", 2, dim=WIDTH), batch=4096)
    d = make_data(N_INF, "i", 3, dim=WIDTH)
    d["embs"][N_INF // 2:] += 3.0  # half of it drifted
    log_split("inference", d, inference_name="prod", batch=4096)
    _api._close_current()


def _nli_run(root, run="nli"):
    labels = ["entailment", "neutral", "contradiction"]
    dq.init(task_type="nli", project_name="p", run_name=run, root=root)
    dq.set_labels_for_run(labels)
    for split, n, seed, name in [("training", N_TRAIN, 4, None), ("validation", N_VAL, 5, None),
                                 ("inference", N_INF, 6, "snli")]:
        d = make_data(n, split[0], seed, dim=WIDTH, labels=labels)
        premises = [f"premise {i}" for i in range(n)]
        hypotheses = [f"hypothesis {t}" for t in d["texts"]]
        if name:
            dq.log_data_samples(premises=premises, hypotheses=hypotheses, ids=d["ids"],
                                split=split, inference_name=name)
        else:
            dq.log_data_samples(premises=premises, hypotheses=hypotheses, ids=d["ids"],
                                labels=d["labels"], split=split)
        dq.log_model_outputs(embs=d["embs"], logits=d["logits"], ids=d["ids"], split=split,
                             inference_name=name, epoch=0)
    _api._close_current()


NER_TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def _ner_run(root, run="ner"):
    """Sentences of 3 tokens with one or two spans each: over 16,384 span rows
    per split of inference, so the span stages have 2 shards too."""
    dq.init(task_type="ner", project_name="p", run_name=run, root=root)
    dq.set_labels_for_run(NER_TAGS)
    dq.set_tagging_schema("BIO")
    text, tokens = "Ann in Rome", [(0, 3), (4, 6), (7, 11)]
    gold = [{"start": 0, "end": 3, "label": "PER"}, {"start": 7, "end": 11, "label": "LOC"}]
    rng = np.random.default_rng(7)
    for split, n, name, shift in [("training", 3000, None, 0.0), ("validation", 600, None, 0.0),
                                  ("inference", 12000, "prod", 0.5)]:
        ids = [f"{split[0]}{i}" for i in range(n)]
        if name:
            dq.log_data_samples(texts=[text] * n, ids=ids, text_token_indices=[tokens] * n,
                                split=split, inference_name=name)
        else:
            dq.log_data_samples(texts=[text] * n, ids=ids, text_token_indices=[tokens] * n,
                                gold_spans=[gold] * n, split=split)
        tags = np.array([1, 0, 3])
        embs = [rng.normal(size=(3, 8)).astype(np.float32) + shift for _ in range(n)]
        logits = []
        for i in range(n):
            lo = rng.normal(size=(3, len(NER_TAGS))).astype(np.float32)
            lo[np.arange(3), tags if i % 3 else np.array([1, 2, 0])] += 4.0
            logits.append(lo)
        dq.log_model_outputs(embs=embs, logits=logits, ids=ids, split=split, inference_name=name,
                             epoch=0)
    _api._close_current()


RUNS = {"tc": _tc_run, "nli": _nli_run, "ner": _ner_run}


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """Each task type's run, logged once; tests finish copies of it."""
    base = tmp_path_factory.mktemp("logged")
    for name, make in RUNS.items():
        make(base / name, run=name)
        _api._close_current()
    return base


def _copy(logged, name, dest):
    shutil.copytree(logged / name, dest)
    return dest


# ---- comparing two finishes --------------------------------------------------------

_TIMING = re.compile(r"seconds|_at$|elapsed|duration")


def _strip_timing(v):
    if isinstance(v, dict):
        return {k: _strip_timing(x) for k, x in v.items() if not _TIMING.search(k)}
    if isinstance(v, list):
        return [_strip_timing(x) for x in v]
    return v


def _strip_sharding(v):
    """The drift search's parameters without how its training reference was
    split (training_shards, the shards and the first shard's index), which a
    sharded finish states and the unsharded one does not."""
    if isinstance(v, dict):
        drop = {"training_shards", "shards", "index"} if "training_shards" in v else set()
        return {k: _strip_sharding(x) for k, x in v.items() if k not in drop}
    if isinstance(v, list):
        return [_strip_sharding(x) for x in v]
    return v


def _rows(db, table):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        if not con.execute("SELECT 1 FROM sqlite_master WHERE name=?", (table,)).fetchone():
            return None
        # repr() of each float: equal text is equal bits (NaN included).
        return [tuple(repr(x) for x in r) for r in con.execute(f"SELECT * FROM {table} ORDER BY 1, 2")]
    finally:
        con.close()


def _summaries(db):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {scope: _strip_timing(json.loads(text))
                for scope, text in con.execute("SELECT scope, json FROM summaries")}
    finally:
        con.close()


def assert_same_results(a: pathlib.Path, b: pathlib.Path, sharded_training=False):
    """Every per-sample result, result file and summary of run folders a and b."""
    for table in ["results", "span_results"]:
        ra, rb = _rows(a / "sextant.db", table), _rows(b / "sextant.db", table)
        assert ra is not None or table == "span_results"
        assert ra == rb, f"{table} differ"
    sa, sb = _summaries(a / "sextant.db"), _summaries(b / "sextant.db")
    if sharded_training:
        assert "training_shards" in json.dumps(sb)
        sa, sb = _strip_sharding(sa), _strip_sharding(sb)
    assert sa == sb
    files_a = sorted(p.relative_to(a) for p in (a / "results").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in (b / "results").rglob("*") if p.is_file())
    assert files_a == files_b and files_a
    for rel in files_a:
        if rel.suffix == ".json":
            assert (_strip_timing(json.loads((a / rel).read_text()))
                    == _strip_timing(json.loads((b / rel).read_text()))), rel
        else:
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    assert not (b / ".shard-work").exists()


def _local_and_dask(logged, tmp_path, name, client, local_options=None, **dask_kwargs):
    local = _copy(logged, name, tmp_path / "local")
    dist = _copy(logged, name, tmp_path / "dask")
    opts = dict(OPTIONS, **(local_options or {}))
    dq.finish_run(local, "p", name, **opts)
    report = dq.finish_run(dist, "p", name, dask=client, **dict(OPTIONS, **dask_kwargs))
    assert_same_results(local / "p" / name, dist / "p" / name)
    return report


# ---- the tests ---------------------------------------------------------------------


@pytest.mark.parametrize("name", list(RUNS))
def test_every_task_type_equals_a_local_finish(logged, tmp_path, cluster, name):
    report = _local_and_dask(logged, tmp_path, name, cluster)
    assert report["shard_tasks"] > 0 and report["shard_bytes_received"] > 0
    assert report["shard_bytes_written"] > 0
    # The shards spread over both workers.
    assert len(report["dask"]["tasks_per_worker"]) == 2, report["dask"]
    kinds = {k for s in report["dask"]["stages"] for k in s["kinds"]}
    assert "kcore" in kinds, report["dask"]["stages"]


def test_upload_transfer_equals_a_local_finish(logged, tmp_path, cluster):
    report = _local_and_dask(logged, tmp_path, "tc", cluster, dask_transfer="upload")
    assert report["dask"]["transfer"] == "upload"
    assert report["dask"]["bytes_uploaded"] > 0


@pytest.mark.parametrize("dask_kwargs", [{"training_shards": 3},
                                         {"worker_memory": "64KB"}],
                         ids=["training_shards=3", "worker_memory=64KB"])
def test_sharded_training_reference_equals_unsharded(logged, tmp_path, cluster, dask_kwargs):
    local = _copy(logged, "tc", tmp_path / "local")
    dist = _copy(logged, "tc", tmp_path / "dask")
    dq.finish_run(local, "p", "tc", **OPTIONS)
    kwargs = dict(OPTIONS, **dask_kwargs)
    report = dq.finish_run(dist, "p", "tc", dask=cluster, **kwargs)
    kinds = {k for s in report["dask"]["stages"] for k in s["kinds"]}
    assert "knn" in kinds, report["dask"]["stages"]
    assert_same_results(local / "p" / "tc", dist / "p" / "tc", sharded_training=True)


def test_a_worker_killed_mid_scoring_is_replaced_and_its_task_rerun(logged, tmp_path):
    marker = tmp_path / "killed"
    c = _cluster(**{FAULT_KILL_ENV: f"kcore:1:{marker}"})
    client = distributed.Client(c)
    try:
        local = _copy(logged, "tc", tmp_path / "local")
        dist = _copy(logged, "tc", tmp_path / "dask")
        dq.finish_run(local, "p", "tc", **OPTIONS)
        dq.finish_run(dist, "p", "tc", dask=client, **OPTIONS)
        assert marker.exists(), "the fault hook did not fire: no kcore task 1 ran"
        assert_same_results(local / "p" / "tc", dist / "p" / "tc")
        client.wait_for_workers(2, timeout=60)
        assert len(client.scheduler_info()["workers"]) == 2
    finally:
        client.close()
        c.close()


def test_cli_finish_dask_runs_the_driver(logged, tmp_path, cluster, sextant_bin):
    local = _copy(logged, "tc", tmp_path / "local")
    dist = _copy(logged, "tc", tmp_path / "dask")
    dq.finish_run(local, "p", "tc", **OPTIONS)
    env = dict(os.environ, SEXTANT_PYTHON=sys.executable)
    env.setdefault("SEXTANT_PYTHONPATH", os.path.dirname(os.path.dirname(dq.__file__)))
    out = subprocess.run([str(sextant_bin), "finish", "--root", str(dist), "--project", "p",
                          "--run", "tc", "--dask", cluster.scheduler.address, "--shard-rows",
                          "16384", "--map-max-points", "4000"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert any(line.startswith("stage: ") for line in lines)
    report = json.loads(lines[-1])
    assert report["shard_tasks"] > 0
    assert_same_results(local / "p" / "tc", dist / "p" / "tc")
    bad = subprocess.run([str(sextant_bin), "finish", "--root", str(dist), "--project", "p",
                          "--run", "missing", "--dask", cluster.scheduler.address],
                         env=env, capture_output=True, text=True, timeout=600)
    assert bad.returncode == 1 and "missing" in bad.stderr


# ---- the plumbing, without the task kinds -------------------------------------------


def test_a_task_error_on_a_worker_names_the_kind(tmp_path, cluster):
    executor = DaskShardExecutor(cluster, tmp_path / "work")
    with pytest.raises(Exception, match="kcore"):
        executor.run("drift", [_core.ShardTask("kcore", "{}", [])])
    with pytest.raises(Exception, match="unknown kind 'nope'"):
        executor.run("drift", [_core.ShardTask("nope", "{}", [])])


def test_an_executor_that_raises_fails_the_finish_with_its_message(logged, tmp_path):
    class Broken(_core.ShardExecutor):
        def work_dir(self):
            return str(tmp_path / "work")

        def worker_memory_bytes(self):
            return 0

        def run(self, stage, tasks):
            raise RuntimeError(f"the cluster is gone ({len(tasks)} tasks of {stage})")

    (tmp_path / "work").mkdir()
    run = _copy(logged, "tc", tmp_path / "run")
    with pytest.raises(dq.InternalError, match=r"RuntimeError: the cluster is gone \(\d+ tasks"):
        _core.finish_run(str(run), "p", "tc", dq.processing_options(**OPTIONS), Broken())
    # Nothing was committed; a local finish still works.
    assert dq.finish_run(run, "p", "tc", **OPTIONS)["shard_tasks"] == 0


def test_worker_memory_and_transfer_arguments(tmp_path, cluster):
    assert parse_memory("4GB") == 4_000_000_000 and parse_memory(1024) == 1024
    with pytest.raises(dq.InvalidArgumentError, match="worker_memory"):
        parse_memory("lots")
    with pytest.raises(dq.InvalidArgumentError, match="transfer"):
        DaskShardExecutor(cluster, tmp_path, transfer="ftp")
    limit = min(w["memory_limit"] for w in cluster.scheduler_info()["workers"].values())
    assert DaskShardExecutor(cluster, tmp_path).worker_memory_bytes() == limit // 2
    assert DaskShardExecutor(cluster, tmp_path, worker_memory="1MB").worker_memory_bytes() == 10**6
    with pytest.raises(dq.InvalidArgumentError, match="dask: expected a distributed.Client"):
        open_client(42)
    with pytest.raises(dq.NotFoundError, match="no run 'p/r'"):
        dq.finish_run(tmp_path, "p", "r", dask=cluster)
    assert not (tmp_path / "p").exists()


# ---- the team server's processing jobs ----------------------------------------------


def _serve_and_train(sextant_bin, tmp_path, address, env=None):
    from test_team_server import Server, TRAIN, _tests_dir, run_script

    class DaskServer(Server):
        def start(self, env=None):
            e = dict(self.env, **(env or {}))
            self.proc = subprocess.Popen(
                [str(self.binary), "serve", "--root", str(self.root), "--port", str(self.port),
                 "--static", str(self.root / "no-ui"), "--dask", address],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
            line = self.proc.stdout.readline()
            assert "Sextant console" in line, line + self.proc.stderr.read()
            return self

    server = DaskServer(sextant_bin, tmp_path / "server",
                        env=dict(env or {}, SEXTANT_PYTHON=sys.executable)).start()
    try:
        r = run_script(TRAIN.format(tests=_tests_dir(), root=str(tmp_path / "trainer")),
                       {"SEXTANT_CONSOLE_URL": server.url})
        jobs = server.get("/api/jobs")
    finally:
        server.stop()
    return r, jobs


def test_serve_dask_runs_processing_jobs_through_the_driver(tmp_path, cluster, sextant_bin):
    r, jobs = _serve_and_train(sextant_bin, tmp_path, cluster.scheduler.address)
    assert r.returncode == 0, r.stdout + r.stderr
    [job] = jobs["jobs"]
    assert job["state"] == "done", job
    assert job["stage"] == "commit results" or job["progress"] > 0, job


def test_serve_dask_fails_the_job_with_the_drivers_error(tmp_path, sextant_bin):
    # Nothing listens on port 9 of loopback: the driver cannot connect and exits 1.
    r, jobs = _serve_and_train(sextant_bin, tmp_path, "tcp://127.0.0.1:9",
                               env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"})
    [job] = jobs["jobs"]
    assert job["state"] == "failed", job
    assert "distributed finish (dask tcp://127.0.0.1:9) exited with 1" in job["error"], job
    assert "error:" in job["error"], job
