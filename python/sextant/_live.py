"""Live logging to a team server (docs/api.md, ``log_live``; docs/team-server.md, "Live ingest").

``log_live`` hands a batch of inference samples to a background thread and
returns at once: it never blocks on the network and never raises into the
caller's request path. The thread groups samples into requests of up to
``batch_size`` samples and POSTs them (base64 float32) to
``/api/runs/{project}/{run}/live`` with urllib (stdlib only).

When the server cannot be reached (a connection error, 408, 429 or a 5xx),
the batch is written to a spool folder under the local store root
(``<root>/.live-spool/<project>/<run>/``, one atomic file per request) and
every later batch follows it there, so that order is kept; the spool is
replayed oldest first as soon as the server answers again, and a file is
removed only once the server accepted it. A replayed batch that the server
had already stored is refused as a duplicate id and dropped from the spool,
so nothing is stored twice. Batches still queued when the process exits are
spooled too, and the next process that logs to the same run replays them.

What cannot be logged is counted, never raised: ``live_stats()`` reports
samples sent, dropped (the in-memory queue was full), rejected (the server
refused them: a wrong width, a duplicate id; the last message is kept),
spooled and replayed.
"""

from __future__ import annotations

import atexit
import base64
import json
import logging
import os
import pathlib
import queue
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Optional, Sequence

import numpy as np

_log = logging.getLogger("sextant.live")

_RETRY_CODES = {408, 429, 500, 502, 503, 504}


class _Unreachable(Exception):
    pass


class _Rejected(Exception):
    pass


def _to_float32(x: Any) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor, without importing torch
        x = x.detach().float().cpu().numpy()
    a = np.asarray(x, dtype="<f4")
    if a.ndim == 1:
        a = a.reshape(1, -1)
    return np.ascontiguousarray(a)


def _matrix(a: np.ndarray) -> dict:
    return {"dtype": "float32", "shape": [int(a.shape[0]), int(a.shape[1])],
            "b64": base64.b64encode(a.tobytes()).decode("ascii")}


class LiveLogger:
    """One background sender for one server and run (``log_live`` keeps one per target)."""

    def __init__(self, url: str, project: str, run: str, root: str,
                 api_key: Optional[str] = None, batch_size: int = 1024,
                 max_queue_samples: int = 100_000, linger: float = 0.1,
                 timeout: float = 30.0, max_backoff: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.project, self.run = project, run
        self.api_key = api_key
        self.batch_size = max(1, int(batch_size))
        self.max_queue_samples = int(max_queue_samples)
        self.linger = linger
        self.timeout = timeout
        self.max_backoff = max_backoff
        self.spool = pathlib.Path(root) / ".live-spool" / project / run
        self._queue: "queue.Queue[Optional[tuple]]" = queue.Queue()
        self._queued = 0  # samples in the in-memory queue or being sent
        self._mu = threading.Lock()
        self._idle = threading.Condition(self._mu)
        self._stats = {"samples_sent": 0, "samples_dropped": 0, "samples_rejected": 0,
                       "samples_spooled": 0, "samples_replayed": 0, "last_error": None}
        self._closed = False
        self._last_drop_warning = -1e9
        self._seq = 0
        self._thread = threading.Thread(target=self._loop, name="sextant-live", daemon=True)
        self._thread.start()

    # ---- the caller's side: never blocks, never raises ------------------------------------

    def log(self, ids: Sequence[Any], texts: Sequence[Any], embs: Any, logits: Any,
            inference_name: Optional[str] = None, timestamps: Optional[Sequence[float]] = None,
            meta: Optional[dict] = None) -> bool:
        try:
            ids = [str(i) for i in (ids.tolist() if hasattr(ids, "tolist") else ids)]
            n = len(ids)
            item = (ids, [str(t) for t in texts], _to_float32(embs), _to_float32(logits),
                    inference_name, None if timestamps is None else [float(t) for t in timestamps],
                    meta)
            if len(item[1]) != n or item[2].shape[0] != n or item[3].shape[0] != n:
                raise ValueError(f"ids, texts, embs and logits must have the same length ({n} ids; "
                                 f"{len(item[1])} texts, {item[2].shape[0]} embs, "
                                 f"{item[3].shape[0]} logits)")
        except Exception as e:  # noqa: BLE001 - the caller's request path must not see it
            self._count("samples_rejected", len(ids) if isinstance(ids, list) else 0, str(e))
            return False
        with self._mu:
            if self._closed or self._queued + n > self.max_queue_samples:
                self._stats["samples_dropped"] += n
                now = time.monotonic()
                warn = now - self._last_drop_warning >= 60
                if warn:
                    self._last_drop_warning = now
                dropped = self._stats["samples_dropped"]
            else:
                self._queued += n
                warn = dropped = None
        if dropped is not None:
            if warn:  # at most once a minute, off the hot path's exception path
                _log.warning("sextant.log_live: the queue is full (%d samples): %d samples "
                             "dropped so far (the server is slow or down; see live_stats())",
                             self.max_queue_samples, dropped)
            return False
        self._queue.put(item)
        return True

    def stats(self) -> dict:
        with self._mu:
            out = dict(self._stats)
            out["samples_queued"] = self._queued
        out["spool_files"] = len(self._spool_files())
        return out

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Waits until every queued sample was sent and the spool is empty."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._mu:
                idle = self._queued == 0
            if idle and not self._spool_files():
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def close(self, timeout: float = 5.0) -> None:
        """Sends what it can within `timeout`; spools the rest for the next process."""
        with self._mu:
            if self._closed:
                return
            self._closed = True
        self._queue.put(None)
        self._thread.join(timeout)

    # ---- the background thread ------------------------------------------------------------

    def _count(self, key: str, n: int, error: Optional[str] = None) -> None:
        with self._mu:
            self._stats[key] += n
            if error is not None:
                self._stats["last_error"] = error
        if error is not None and key == "samples_rejected":
            _log.warning("sextant.log_live: %d samples not logged: %s", n, error)

    def _spool_files(self) -> list[pathlib.Path]:
        try:
            return sorted(p for p in self.spool.iterdir() if p.suffix == ".json")
        except FileNotFoundError:
            return []

    def _body(self, items: list[tuple]) -> tuple[str, bytes, int]:
        ids, texts, embs, logits, ts, metas = [], [], [], [], [], {}
        name = items[0][4]
        for it in items:
            ids += it[0]
            texts += it[1]
            embs.append(it[2])
            logits.append(it[3])
            ts += it[5] if it[5] is not None else [time.time()] * len(it[0])
        columns = sorted({k for it in items if it[6] for k in it[6]})
        for c in columns:
            metas[c] = []
            for it in items:
                vals = (it[6] or {}).get(c)
                metas[c] += list(vals) if vals is not None else [None] * len(it[0])
        body = {"ids": ids, "texts": texts, "timestamps": ts,
                "embeddings": _matrix(np.concatenate(embs)),
                "logits": _matrix(np.concatenate(logits))}
        if name:
            body["inference_name"] = name
        if metas:
            body["meta"] = metas
        return name or "", json.dumps(body).encode("utf-8"), len(ids)

    def _post(self, body: bytes, timeout: Optional[float] = None) -> None:
        req = urllib.request.Request(
            f"{self.url}/api/runs/{urllib.parse.quote(self.project)}/"
            f"{urllib.parse.quote(self.run)}/live", data=body, method="POST",
            headers={"Content-Type": "application/json"})
        if self.api_key:
            req.add_header("Authorization", f"Bearer {self.api_key}")
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as r:
                r.read()
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", "replace")
            if e.code in _RETRY_CODES:
                raise _Unreachable(f"HTTP {e.code}: {text}") from None
            raise _Rejected(f"HTTP {e.code}: {text}") from None
        except (urllib.error.URLError, OSError) as e:
            raise _Unreachable(str(e)) from None

    def _write_spool(self, body: bytes, n: int) -> None:
        self.spool.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        # Names sort in logging order: nanoseconds, then a per-process sequence.
        name = f"{time.time_ns():020d}-{os.getpid()}-{self._seq:08d}-{n}"
        tmp = self.spool / (name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.spool / (name + ".json"))
        try:
            fd = os.open(self.spool, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            pass
        self._count("samples_spooled", n)

    def _replay(self) -> bool:
        """Sends spooled files oldest first; False when the server is still unreachable."""
        for path in self._spool_files():
            try:
                body = path.read_bytes()
                n = int(path.stem.rsplit("-", 1)[1])
            except (OSError, ValueError, IndexError):
                continue
            try:
                self._post(body)
                self._count("samples_replayed", n)
                self._count("samples_sent", n)
            except _Unreachable as e:
                with self._mu:
                    self._stats["last_error"] = str(e)
                return False
            except _Rejected as e:
                # Already stored (a reply lost after the server took it), or refused for good.
                self._count("samples_rejected", n, str(e))
            path.unlink(missing_ok=True)
        return True

    def _loop(self) -> None:
        backoff = 0.2
        next_try = 0.0
        stopping = False
        while True:
            items: list[tuple] = []
            try:
                first = self._queue.get(timeout=0.2 if self._spool_files() else 1.0)
                if first is None:
                    stopping = True
                else:
                    items.append(first)
                    deadline = time.monotonic() + self.linger
                    count = len(first[0])
                    while count < self.batch_size:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            break
                        try:
                            nxt = self._queue.get(timeout=remaining)
                        except queue.Empty:
                            break
                        if nxt is None:
                            stopping = True
                            break
                        items.append(nxt)
                        count += len(nxt[0])
            except queue.Empty:
                pass
            if stopping:  # take the rest without waiting
                while True:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is not None:
                        items.append(nxt)
            # One request per inference set, in arrival order within each.
            groups: dict[str, list[tuple]] = {}
            for it in items:
                groups.setdefault(it[4] or "", []).append(it)
            bodies = []
            for group in groups.values():
                chunk: list[tuple] = []
                for it in group:
                    if chunk and sum(len(c[0]) for c in chunk) + len(it[0]) > self.batch_size:
                        bodies.append(self._body(chunk))
                        chunk = []
                    chunk.append(it)
                if chunk:
                    bodies.append(self._body(chunk))
            # The spool goes first; while it holds anything, new batches join it.
            reachable = True
            if self._spool_files():
                if stopping or time.monotonic() < next_try:
                    reachable = False
                else:
                    reachable = self._replay()
            for _, body, n in bodies:
                if not reachable:
                    self._write_spool(body, n)
                    continue
                try:
                    self._post(body, timeout=min(self.timeout, 2.0) if stopping else None)
                    self._count("samples_sent", n)
                except _Unreachable as e:
                    reachable = False
                    with self._mu:
                        self._stats["last_error"] = str(e)
                    self._write_spool(body, n)
                except _Rejected as e:
                    self._count("samples_rejected", n, str(e))
            if reachable:
                backoff = 0.2
            elif time.monotonic() >= next_try:
                next_try = time.monotonic() + backoff * (0.5 + random.random())
                backoff = min(backoff * 2, self.max_backoff)
            with self._mu:
                self._queued -= sum(len(it[0]) for it in items)
            if stopping:
                return


_loggers: dict[tuple, LiveLogger] = {}
_last_setup_warning = -1e9
_loggers_lock = threading.Lock()


def _target(url: Optional[str], api_key: Optional[str], project_name: Optional[str],
            run_name: Optional[str], root: Optional[str]) -> tuple:
    from . import _api  # the current run gives the defaults
    from ._core import resolve_root
    url = url or os.environ.get("SEXTANT_CONSOLE_URL")
    if not url:
        raise ValueError("log_live: no server: pass url= or set SEXTANT_CONSOLE_URL")
    api_key = api_key if api_key is not None else os.environ.get("SEXTANT_API_KEY")
    current = _api.current_run()
    if project_name is None or run_name is None:
        if current is None:
            raise ValueError("log_live: name the training run (project_name=, run_name=) or "
                             "call sextant.init first")
        project_name = project_name or current[1]
        run_name = run_name or current[2]
    if root is None:
        root = current[0] if current is not None else str(resolve_root(""))
    return url, api_key, project_name, run_name, str(root)


def log_live(ids: Sequence[Any], texts: Sequence[Any], embs: Any, logits: Any,
             inference_name: Optional[str] = None, timestamps: Optional[Sequence[float]] = None,
             meta: Optional[dict] = None, *, url: Optional[str] = None,
             api_key: Optional[str] = None, project_name: Optional[str] = None,
             run_name: Optional[str] = None, root: Optional[str] = None, **options: Any) -> bool:
    """Queues inference samples for the server's live ingest; returns at once.

    ``embs`` (n x width) and ``logits`` (n x labels) are numpy arrays, torch
    tensors or lists. ``inference_name`` names the set; without it the server's
    ``--live-window`` (day or hour) names it from ``timestamps`` (Unix
    seconds; default now). The server and key come from ``url`` / ``api_key``
    or ``$SEXTANT_CONSOLE_URL`` / ``$SEXTANT_API_KEY``; the training run from
    ``project_name`` / ``run_name`` or the current ``sextant.init`` run.
    Returns False (and counts why, see ``live_stats``) when the samples were
    not queued; never raises, never waits for the network.
    """
    try:
        target = _target(url, api_key, project_name, run_name, root)
        with _loggers_lock:
            logger = _loggers.get(target)
            if logger is None:
                logger = LiveLogger(target[0], target[2], target[3], target[4],
                                    api_key=target[1], **options)
                _loggers[target] = logger
    except Exception as e:  # noqa: BLE001 - never into the caller's request path
        global _last_setup_warning
        now = time.monotonic()
        if now - _last_setup_warning >= 60:  # at most once a minute
            _last_setup_warning = now
            _log.warning("sextant.log_live: samples not logged: %s", e)
        return False
    return logger.log(ids, texts, embs, logits, inference_name, timestamps, meta)


def flush_live(timeout: Optional[float] = None) -> bool:
    """Waits until every live sample was sent and every spool replayed (False at the timeout)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    with _loggers_lock:
        loggers = list(_loggers.values())
    for logger in loggers:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not logger.flush(left):
            return False
    return True


def live_stats() -> dict:
    """Per target (url, project, run): samples sent, dropped, rejected, spooled, replayed."""
    with _loggers_lock:
        return {f"{k[0]} {k[2]}/{k[3]}": v.stats() for k, v in _loggers.items()}


def close_live(timeout: float = 5.0) -> None:
    """Stops the senders: what is not sent within `timeout` is spooled for later."""
    with _loggers_lock:
        loggers = list(_loggers.values())
        _loggers.clear()
    for logger in loggers:
        logger.close(timeout)


atexit.register(close_live)
