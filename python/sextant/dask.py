"""A finish's shard work on a Dask cluster (docs/distributed.md).

``DaskShardExecutor`` is the ``ShardExecutor`` (sextant/shards.h) that runs
each shard task of a finish as one Dask task; the worker calls the engine's
own task function (``_core.run_shard_task``), so the results are bitwise those
of a single-machine finish. Two ways the workers read a stage's inputs:

* ``transfer="shared"``: the work directory is on a file system every worker
  sees at the same path (NFS, a shared disk; one machine). Nothing but the
  task specs and outputs goes through Dask.
* ``transfer="upload"``: the driver reads each file a stage's tasks name once,
  scatters it (the shared index with ``broadcast=True``), and each worker
  writes it once into a local cache folder and runs its tasks there.

A worker that dies mid-task is replaced by the cluster and its tasks rerun
(the scheduler's ``allowed-failures`` times); a task's output does not depend
on where or how often it ran.
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import signal
import tempfile
import threading
import time
import uuid
from typing import Any, Optional, Sequence

from . import _core

TRANSFERS = ("shared", "upload")

# The fault hook of the tests (tests/python/test_dask_finish.py): "KIND:INDEX:MARKER"
# makes the worker process kill itself with SIGKILL when about to run task INDEX
# of a stage of kind KIND, once (the first process to create MARKER).
FAULT_KILL_ENV = "SEXTANT_FAULT_KILL_WORKER_AT"


def parse_memory(value: Any) -> int:
    """Bytes from an int or a size like "4GB" / "512 MiB" (Dask's parse_bytes)."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise _core.InvalidArgumentError(f"worker_memory: expected bytes or a size like '4GB'; "
                                         f"got {value!r}")
    if isinstance(value, (int, float)):
        n = int(value)
    else:
        from dask.utils import parse_bytes
        try:
            n = int(parse_bytes(str(value)))
        except (ValueError, TypeError) as e:
            raise _core.InvalidArgumentError(
                f"worker_memory: expected bytes or a size like '4GB'; got {value!r}") from e
    if n < 0:
        raise _core.InvalidArgumentError(f"worker_memory: must be 0 (no limit) or positive; got {n}")
    return n


def _slug(stage: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", stage).strip("-").lower() or "stage"


def _maybe_fault(kind: str, index: int) -> None:
    hook = os.environ.get(FAULT_KILL_ENV, "")
    if not hook:
        return
    parts = hook.split(":", 2)
    if len(parts) != 3 or parts[0] != kind or parts[1] != str(index):
        return
    try:
        fd = os.open(parts[2], os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)


def _cache_root() -> str:
    return os.path.join(tempfile.gettempdir(), f"sextant-shard-cache-{os.getuid()}")


_write_lock = threading.Lock()


def _materialise(token: str, files: Sequence[tuple[str, int, Any]]) -> str:
    """Writes the uploaded files into this worker's cache folder for `token`
    (once per file: a file of the right size is kept) and returns the folder."""
    folder = os.path.join(_cache_root(), token)
    for name, size, data in files:
        path = os.path.join(folder, name)
        if not os.path.normpath(path).startswith(folder + os.sep):
            raise ValueError(f"shard task: file '{name}' is outside the work directory")
        with _write_lock:
            if os.path.exists(path) and os.path.getsize(path) == size:
                continue
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
    return folder


def _drop_cache(token: str) -> None:
    shutil.rmtree(os.path.join(_cache_root(), token), ignore_errors=True)


def _run_task(kind: str, spec: str, index: int, work_dir: str,
              token: str, files: Sequence[tuple[str, int, Any]]) -> tuple[bytes, str]:
    """What a Dask worker runs for one shard task: (output bytes, worker address)."""
    _maybe_fault(kind, index)
    if files:
        work_dir = _materialise(token, files)
    try:
        from distributed import get_worker
        where = get_worker().address
    except (ImportError, ValueError):
        where = f"pid {os.getpid()}"
    try:
        return _core.run_shard_task(kind, spec, work_dir), where
    except _core.SextantError as e:
        # The engine's error with the task it came from, as the same class.
        raise type(e)(f"shard task '{kind}' #{index} on {where}: {e}") from None


def _spec_files(spec: str, work_dir: str) -> list[str]:
    """Every string of the spec that names a file under the work directory."""
    out: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, str):
            if v and not os.path.isabs(v) and os.path.isfile(os.path.join(work_dir, v)):
                out.append(v)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    try:
        walk(json.loads(spec))
    except ValueError:
        pass
    return out


class DaskShardExecutor(_core.ShardExecutor):
    """Runs a finish's shard tasks on a ``distributed.Client``'s cluster.

    ``work_dir``: where the finish writes each stage's inputs (created). With
    ``transfer="shared"`` every worker must see it at the same path.
    ``worker_memory``: bytes (or "4GB") the training reference may take on one
    worker; default: half the smallest worker ``memory_limit``, else no limit.
    ``retries``: reruns of a task that raised (a worker that died is handled by
    the scheduler, which reruns its tasks ``allowed-failures`` times).
    """

    def __init__(self, client: Any, work_dir: str | os.PathLike[str], transfer: str = "shared",
                 worker_memory: Any = None, retries: int = 1) -> None:
        super().__init__()
        if transfer not in TRANSFERS:
            raise _core.InvalidArgumentError(
                f"transfer: expected 'shared' or 'upload'; got {transfer!r}")
        self.client = client
        self.transfer = transfer
        self.retries = int(retries)
        self._work_dir = os.path.abspath(os.fspath(work_dir))
        os.makedirs(self._work_dir, exist_ok=True)
        self._worker_memory = (parse_memory(worker_memory) if worker_memory is not None
                               else self._default_worker_memory())
        self.tasks_per_worker: collections.Counter[str] = collections.Counter()
        self.stages: list[dict[str, Any]] = []
        self.bytes_received = 0
        self.bytes_uploaded = 0

    def _default_worker_memory(self) -> int:
        try:
            workers = self.client.scheduler_info().get("workers", {})
        except Exception:  # noqa: BLE001 - no scheduler info: no limit
            return 0
        limits = [int(w.get("memory_limit") or 0) for w in workers.values()]
        limits = [m for m in limits if m > 0]
        return min(limits) // 2 if limits else 0

    # ShardExecutor
    def work_dir(self) -> str:
        return self._work_dir

    def worker_memory_bytes(self) -> int:
        return self._worker_memory

    def run(self, stage: str, tasks: Sequence[Any]) -> list[bytes]:
        start = time.monotonic()
        token = f"{_slug(stage)}-{uuid.uuid4().hex[:12]}"
        uploads: dict[str, tuple[str, int, Any]] = {}
        uploaded = 0
        task_files: list[list[tuple[str, int, Any]]] = [[] for _ in tasks]
        if self.transfer == "upload":
            for i, t in enumerate(tasks):
                shared = list(t.shared_files)
                for name in shared + [f for f in _spec_files(t.spec, self._work_dir)
                                      if f not in shared]:
                    if name not in uploads:
                        path = os.path.join(self._work_dir, name)
                        with open(path, "rb") as f:
                            data = f.read()
                        # Every worker holds a copy: a dead worker's tasks rerun
                        # elsewhere with their inputs still on the cluster.
                        [future] = self.client.scatter([data], broadcast=True, hash=False)
                        uploads[name] = (name, len(data), future)
                        uploaded += len(data)
                    task_files[i].append(uploads[name])
        futures = [
            self.client.submit(_run_task, t.kind, t.spec, i, self._work_dir, token, task_files[i],
                               key=f"sextant-{token}-{i}", pure=False, retries=self.retries)
            for i, t in enumerate(tasks)
        ]
        try:
            results = self.client.gather(futures)
        except BaseException:
            self.client.cancel(futures)
            raise
        finally:
            if uploads:
                self.client.cancel([u[2] for u in uploads.values()])
                try:
                    self.client.run(_drop_cache, token)
                except Exception:  # noqa: BLE001 - a cache left behind is only disk
                    pass
        if len(results) != len(tasks):
            raise RuntimeError(f"stage '{stage}': {len(results)} outputs for {len(tasks)} tasks")
        outputs = [r[0] for r in results]
        received = sum(len(o) for o in outputs)
        workers = collections.Counter(r[1] for r in results)
        self.tasks_per_worker.update(workers)
        self.bytes_received += received
        self.bytes_uploaded += uploaded
        self.stages.append({"stage": stage, "tasks": len(tasks), "kinds": sorted({t.kind for t in tasks}),
                            "workers": dict(workers), "bytes_received": received,
                            "bytes_uploaded": uploaded,
                            "seconds": round(time.monotonic() - start, 3)})
        return outputs

    def stats(self) -> dict[str, Any]:
        """What this executor did: tasks per worker, bytes, per-stage counts."""
        return {"transfer": self.transfer, "worker_memory_bytes": self._worker_memory,
                "tasks_per_worker": dict(self.tasks_per_worker),
                "bytes_received": self.bytes_received, "bytes_uploaded": self.bytes_uploaded,
                "stages": list(self.stages)}


def open_client(dask: Any) -> tuple[Any, bool]:
    """(client, owned): a ``distributed.Client`` as given, or one opened on an
    address string (owned: the caller closes it)."""
    if isinstance(dask, (str, os.PathLike)):
        from distributed import Client
        return Client(os.fspath(dask)), True
    if hasattr(dask, "submit") and hasattr(dask, "gather"):
        return dask, False
    # A LocalCluster or other cluster object: connect to its scheduler.
    if hasattr(dask, "scheduler_address"):
        from distributed import Client
        return Client(dask.scheduler_address), True
    raise _core.InvalidArgumentError(
        f"dask: expected a distributed.Client, a cluster or a scheduler address; got "
        f"{type(dask).__name__}")


def finish_with_dask(finish: Any, dask: Any, work_dir: str, worker_memory: Any = None,
                     transfer: str = "shared") -> dict[str, Any]:
    """Calls ``finish(executor)`` with a DaskShardExecutor on ``dask``; the
    report gets the executor's stats as "dask"."""
    client, owned = open_client(dask)
    try:
        executor = DaskShardExecutor(client, work_dir, transfer=transfer,
                                     worker_memory=worker_memory)
        report = finish(executor)
        report["dask"] = executor.stats()
        return report
    finally:
        try:
            os.rmdir(work_dir)  # only when the finish left it empty
        except OSError:
            pass
        if owned:
            client.close()
