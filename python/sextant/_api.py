"""The logging API, in the shape of Galileo's ``dataquality`` client.

One run is current per process (``init`` opens it, ``finish`` processes and
closes it), as in ``dataquality``. Every call forwards to the C++ engine's
``Client``: it validates, copies and returns; the engine's background thread
writes. Calls are safe from several threads: the engine serialises them, and
the GIL is released while it works.
"""

from __future__ import annotations

import atexit
import dataclasses
import datetime
import os
import sys
import threading
from typing import Any, Iterable, Mapping, Optional, Sequence

from . import _convert
from ._core import (
    Client,
    DriftReference,
    FailedPreconditionError,
    InvalidArgumentError,
    NnSearch,
    ProcessingOptions,
    processing_option_specs,
    UnavailableError,
    resolve_remote,
    resolve_root,
    set_processing_option,
)
from . import _core

TASK_TYPES = ("text_classification", "natural_language_inference", "named_entity_recognition")
_TASK_ALIASES = {"tc": "text_classification", "nli": "natural_language_inference",
                 "ner": "named_entity_recognition"}
DEFAULT_PROJECT = "default"


@dataclasses.dataclass
class _Run:
    root: str
    project: str
    run: str
    task: str
    client: Optional[Client]
    remote: Optional[tuple] = None  # (url, api_key, retry_seconds) of a team server


_lock = threading.Lock()
_current: Optional[_Run] = None  # guarded by _lock
_last: Optional[_Run] = None  # the last run opened, for the read-back defaults


def _client() -> Client:
    return _open_run()[0]


def _close_current() -> None:
    global _current
    with _lock:
        run, _current = _current, None
    if run is not None and run.client is not None:
        run.client.close()


atexit.register(_close_current)


def init(task_type: str = "text_classification", project_name: Optional[str] = None,
         run_name: Optional[str] = None, root: Optional[str | os.PathLike[str]] = None,
         max_pending_bytes: Optional[int] = None, **_: Any) -> None:
    """Opens (or creates) ``project_name/run_name`` under ``root`` and makes it current.

    ``root`` defaults to ``$SEXTANT_HOME``, else ``~/.sextant``. Attaching to an
    existing run is how an inference job adds production data to its training
    run. A run open in this process is closed (flushed) first. Raises
    FailedPreconditionError when another process writes to the run. Other
    keyword arguments of ``dataquality.init`` (``is_public``, ...) are ignored.

    Durability: ``log_model_outputs`` returns before its batch is on disk;
    ``flush()`` and ``finish()`` return once every batch is durable. Without
    them, a crash loses at most the newest ``max_pending_bytes`` (default
    16 MiB) of logged outputs (docs/format.md, Durability).
    """
    global _current, _last
    task_type = _TASK_ALIASES.get(task_type, task_type)
    if task_type not in TASK_TYPES:
        raise InvalidArgumentError(
            f"task_type: '{task_type}' is not supported; expected one of {', '.join(TASK_TYPES)} "
            f"(or {', '.join(_TASK_ALIASES)})")
    project = project_name or DEFAULT_PROJECT
    run = run_name or datetime.datetime.now().strftime("run-%Y%m%d-%H%M%S")
    resolved = str(resolve_root(os.fspath(root) if root is not None else ""))
    _close_current()
    # With a team server (SEXTANT_CONSOLE_URL, or login()), the local run is
    # the write-ahead log and finish() uploads it.
    remote = resolve_remote(resolved)
    client = Client.init(resolved, project, run, task_type, max_pending_bytes, remote)
    with _lock:
        _current = _Run(resolved, project, run, task_type, client, remote)
        _last = _current


def _open_run() -> tuple[Client, str]:
    """The open run's client and task, in one read."""
    with _lock:
        run = _current
    if run is None or run.client is None:
        raise FailedPreconditionError(
            "no run is open: call sextant.init(task_type=..., project_name=..., run_name=...) first")
    return run.client, run.task


def _current_task() -> str:
    with _lock:
        run = _current
    return run.task if run is not None else "text_classification"


def login(url: Optional[str] = None, api_key: Optional[str] = None,
          root: Optional[str | os.PathLike[str]] = None, **_: Any) -> dict[str, Any]:
    """Connects to a team server (``sextant serve``) for later runs.

    ``url`` and ``api_key`` default to ``$SEXTANT_CONSOLE_URL`` and
    ``$SEXTANT_API_KEY``. Checks the server's health, version and the key, then
    keeps them under the store root (``.login.json``, mode 0600). With no server
    configured at all, this does nothing and Sextant runs embedded.

    A server that cannot be reached is not an error for a job configured
    through the environment (``$SEXTANT_CONSOLE_URL``): it logs locally as
    always, and ``finish()`` keeps the run pending for ``sextant sync``. A wrong
    key, a key without rights and an incompatible server raise.
    """
    resolved = str(resolve_root(os.fspath(root) if root is not None else ""))
    if not url and not os.environ.get("SEXTANT_CONSOLE_URL"):
        return {"url": None, "embedded": True}
    try:
        return _core.login(resolved, url or "", api_key or "")
    except UnavailableError as e:
        if url:
            raise
        print(f"sextant: {e}; logging locally, finish() keeps the run for `sextant sync`",
              file=sys.stderr, flush=True)
        return {"url": os.environ.get("SEXTANT_CONSOLE_URL"), "reachable": False}


def logout(root: Optional[str | os.PathLike[str]] = None) -> None:
    """Forgets the team server kept by ``login`` (the environment still applies)."""
    _core.logout(str(resolve_root(os.fspath(root) if root is not None else "")))


def _remote_for(root: Optional[str | os.PathLike[str]] = None) -> tuple:
    resolved = str(resolve_root(os.fspath(root) if root is not None else ""))
    remote = resolve_remote(resolved)
    if remote is None:
        raise FailedPreconditionError(
            "no team server configured: call sextant.login(url=..., api_key=...) or set "
            "SEXTANT_CONSOLE_URL")
    return remote


def _run_names(project_name: Optional[str], run_name: Optional[str]) -> tuple[str, str]:
    with _lock:
        last = _current or _last
    project = project_name or (last.project if last else None)
    run = run_name or (last.run if last else None)
    if not project or not run:
        raise InvalidArgumentError("project_name and run_name: no run given and none was opened")
    return project, run


def _print(line: str) -> None:
    print(line, flush=True)


def sync(root: Optional[str | os.PathLike[str]] = None, project_name: Optional[str] = None,
         run_name: Optional[str] = None, progress: bool = True) -> list[dict[str, Any]]:
    """Uploads what local runs logged and the team server does not have yet
    (what ``sextant sync`` does): every run under the root, or one."""
    resolved = str(resolve_root(os.fspath(root) if root is not None else ""))
    return _core.sync(resolved, _remote_for(resolved), project_name or "", run_name or "",
                      _print if progress else None)


def get_run_status(project_name: Optional[str] = None, run_name: Optional[str] = None,
                   root: Optional[str | os.PathLike[str]] = None) -> Optional[dict[str, Any]]:
    """The team server's latest processing job of the run (state, stage,
    progress, error), or None when it has none."""
    project, run = _run_names(project_name, run_name)
    return _core.get_run_status(_remote_for(root), project, run)


def wait_for_run(project_name: Optional[str] = None, run_name: Optional[str] = None,
                 timeout: Optional[float] = None, root: Optional[str | os.PathLike[str]] = None,
                 progress: bool = True) -> dict[str, Any]:
    """Waits for the run's processing on the team server; raises with the
    reason when the job failed."""
    project, run = _run_names(project_name, run_name)
    return _core.wait_for_run(_remote_for(root), project, run, float(timeout or 0),
                              _print if progress else None)


def set_labels_for_run(labels: Iterable[Any]) -> None:
    """The run's label list in logit order; an inference job's must equal training's."""
    _client().set_labels_for_run([str(label) for label in labels])


def get_labels_for_run() -> list[str]:
    return list(_client().labels)


def set_tagging_schema(tagging_schema: str) -> None:
    """NER runs: how the tag list encodes spans, "BIO", "BIOES" or "BILOU"."""
    _client().set_tagging_schema(str(tagging_schema))


def set_split(split: str, inference_name: Optional[str] = None, timestamp: Any = None) -> None:
    """The split (and inference name) of later ``log_model_outputs`` calls.

    ``timestamp`` (inference sets only) is when the set happened, its place on
    the run's timeline: Unix seconds, a ``datetime`` (naive means UTC), a
    pandas ``Timestamp`` or an ISO 8601 string. Without it a set's time is when
    its first sample was logged.
    """
    _client().set_split(str(split), inference_name or "", _convert.to_unix_seconds(timestamp))


def set_epoch(epoch: int) -> None:
    """The epoch of later model outputs."""
    _client().set_epoch(int(epoch))


def log_data_samples(*, ids: Any, texts: Optional[Sequence[Any]] = None,
                     labels: Optional[Sequence[Any]] = None, split: Optional[str] = None,
                     inference_name: Optional[str] = None,
                     meta: Optional[Mapping[str, Sequence[Any]]] = None,
                     premises: Optional[Sequence[Any]] = None,
                     hypotheses: Optional[Sequence[Any]] = None,
                     text_token_indices: Optional[Sequence[Any]] = None,
                     gold_spans: Optional[Sequence[Any]] = None, **_: Any) -> None:
    """Logs samples (one transaction). Labels are names from the label list or their indices.

    NLI: ``premises`` and ``hypotheses`` instead of ``texts`` (or texts holding
    "premise [SEP] hypothesis"). NER: ``texts``, ``text_token_indices`` (per
    sample a list of (start, end) character pairs, one per model token) and,
    for labeled splits, ``gold_spans`` (per sample a list of {"start", "end",
    "label"}).
    """
    client = _client()
    names, indices = _convert.to_labels(labels) if labels is not None else (None, None)
    meta_columns = _convert.meta_to_columns(dict(meta), list(meta)) if meta else []
    if split is None and inference_name:
        split = "inference"
    client.log_data_samples(
        _convert.to_ids(ids), _convert.to_texts(texts), names, indices, meta_columns,
        None if split is None else str(split), inference_name or "",
        premises=_convert.to_texts(premises), hypotheses=_convert.to_texts(hypotheses),
        token_offsets=_convert.to_token_offsets(text_token_indices),
        gold_spans=None if gold_spans is None else _convert.to_gold_spans(gold_spans))


def log_dataset(dataset: Any, *, text: str = "text", id: str = "id", label: Optional[str] = "label",
                split: Optional[str] = None, inference_name: Optional[str] = None,
                meta: Optional[Sequence[str]] = None, premise: str = "premise",
                hypothesis: str = "hypothesis", text_token_indices: str = "text_token_indices",
                gold_spans: str = "gold_spans", **_: Any) -> None:
    """Logs a pandas DataFrame, a dict of columns or an iterable of dicts.

    ``text``, ``id`` and ``label`` name the columns; ``meta`` names further
    columns kept with each sample. Inference data is logged without labels (a
    label column is ignored there).
    """
    client = _client()
    if split is None and inference_name:
        split = "inference"
    if split is None:
        raise InvalidArgumentError("split: required (training, validation, test or inference)")
    labeled = str(split) != "inference"
    task = _current_task()
    columns = _convert.dataset_columns(dataset)
    if task == "natural_language_inference" and premise in columns and hypothesis in columns:
        ids, _, labels, meta_columns = _convert.dataset_fields(
            columns, text=None, id=id, label=label, labeled=labeled, meta=meta)
        log_data_samples(ids=ids, labels=labels, split=split, inference_name=inference_name,
                         premises=_convert.column(columns, premise, "premise"),
                         hypotheses=_convert.column(columns, hypothesis, "hypothesis"),
                         meta={name: values for name, values in meta_columns})
        return
    if task == "named_entity_recognition":
        ids, texts, _, meta_columns = _convert.dataset_fields(
            columns, text=text, id=id, label=None, labeled=False, meta=meta)
        log_data_samples(ids=ids, texts=texts, split=split, inference_name=inference_name,
                         text_token_indices=_convert.column(columns, text_token_indices,
                                                            "text_token_indices"),
                         gold_spans=(_convert.column(columns, gold_spans, "gold_spans")
                                     if labeled else None),
                         meta={name: values for name, values in meta_columns})
        return
    ids, texts, labels, meta_columns = _convert.dataset_fields(
        columns, text=text, id=id, label=label, labeled=labeled, meta=meta)
    names, indices = _convert.to_labels(labels) if labels is not None else (None, None)
    client.log_data_samples(ids, texts, names, indices, meta_columns, str(split),
                            inference_name or "")


def log_model_outputs(*, embs: Any, ids: Any, logits: Any = None, probs: Any = None,
                      split: Optional[str] = None, epoch: Optional[int] = None,
                      inference_name: Optional[str] = None, **_: Any) -> None:
    """Logs a batch's embeddings and logits (or probabilities) for the current split and epoch.

    Takes torch tensors (CPU or CUDA, with or without grad), numpy arrays or
    lists of any float dtype. The batch is copied; the call returns without
    waiting for the disk.
    """
    client, task = _open_run()
    if split is None and inference_name:
        split = "inference"
    if task == "named_entity_recognition":
        # NER: [B, T, D] padded, or a list of [T_i, D] per sample.
        e, padded, counts = _convert.to_token_rows(embs, "embs")
        lo = None if logits is None else _convert.to_token_rows(logits, "logits")[0]
        pr = None if probs is None else _convert.to_token_rows(probs, "probs")[0]
        client.log_model_outputs(_convert.to_output_ids(ids), e, lo, pr,
                                 None if split is None else str(split), inference_name or "",
                                 None if epoch is None else int(epoch), padded, counts)
        return
    e = _convert.to_matrix(embs, "embs")
    lo = None if logits is None else _convert.to_matrix(logits, "logits")
    pr = None if probs is None else _convert.to_matrix(probs, "probs")
    client.log_model_outputs(_convert.to_output_ids(ids), e, lo, pr, None if split is None else str(split),
                             inference_name or "", None if epoch is None else int(epoch))


def _option_text(value: Any) -> str:
    """A keyword argument's value as the engine's option parser reads it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (DriftReference, NnSearch)):
        return value.name
    if isinstance(value, float):
        return repr(value)
    return str(value)


def processing_options(**options: Any) -> ProcessingOptions:
    """ProcessingOptions from keyword arguments: the names (or short names) of
    ``processing_option_specs()``, the same list the CLI's flags come from."""
    o = ProcessingOptions()
    for key, value in options.items():
        set_processing_option(o, key, _option_text(value))
    return o


def finish(wait: bool = True, dask: Any = None, worker_memory: Any = None,
           dask_transfer: str = "shared", dask_work_dir: Optional[str | os.PathLike[str]] = None,
           **options: Any) -> dict[str, Any]:
    """Flushes, processes every split of the run, then closes it.

    Keyword arguments set processing options (``drift_k``, ``drift_percentile``,
    ``compute_map``, ...). Returns what was done (splits, samples, seconds).
    A failed finish keeps the run open: fix the cause (e.g. log the missing
    outputs) and call it again.

    ``dask`` (a ``distributed.Client``, a cluster or a scheduler address) runs
    the heavy searches as shard tasks on that cluster (docs/distributed.md):
    ``worker_memory`` (bytes or "4GB") bounds the training reference one worker
    searches, ``dask_transfer`` is "shared" (the workers see the run folder at
    the same path) or "upload"; the stage inputs go to ``dask_work_dir``
    (default ``<run dir>/.shard-work``). Results are those of a local finish.

    With a team server (``login()`` or ``$SEXTANT_CONSOLE_URL``), uploads what
    the run logged since its last upload instead, prints "Finished uploading",
    and with ``wait`` (the default) waits for the server's processing job. When
    the server cannot be reached, the run stays pending locally and
    ``sextant.sync()`` (or ``sextant sync``, or the next finish) uploads it.
    """
    global _current
    client = _client()
    with _lock:
        current = _current
    remote = current.remote if current is not None else None
    if dask is not None and remote is not None:
        raise InvalidArgumentError(
            "dask: this run finishes on a team server (login() or $SEXTANT_CONSOLE_URL); the "
            "server runs its own finish (`sextant serve --dask ADDR`)")
    opts = processing_options(**options)
    if dask is None:
        report = client.finish(opts, wait, 0.0, _print if remote is not None else None)
    else:
        from . import dask as _dask
        assert current is not None
        work_dir = os.fspath(dask_work_dir) if dask_work_dir is not None else _shard_work_dir(
            current.root, current.project, current.run)
        report = _dask.finish_with_dask(
            lambda executor: client.finish(opts, wait, 0.0, None, executor), dask, work_dir,
            worker_memory=worker_memory, transfer=dask_transfer)
    if remote is not None:
        print(report["message"], flush=True)
        job = report.get("job")
        if job is not None and job["state"] == "done":
            print(f"Processed on the server (job {job['id']})", flush=True)
    with _lock:
        run = _current
        if run is not None and run.client is client:
            _current = None
    client.close()
    return report


def _shard_work_dir(root: str, project: str, run: str) -> str:
    """The default folder of a distributed finish's stage inputs: in the run's
    own folder, so that workers sharing the store see it at the same path."""
    return os.path.join(os.fspath(resolve_root(root)), project, run, ".shard-work")


def finish_run(root: Optional[str | os.PathLike[str]], project: str, run: str,
               dask: Any = None, worker_memory: Any = None, dask_transfer: str = "shared",
               dask_work_dir: Optional[str | os.PathLike[str]] = None,
               on_stage: Any = None, **options: Any) -> dict[str, Any]:
    """Processes a logged run that is not open here (what ``sextant finish``
    does), locally or with ``dask=`` on a Dask cluster as ``finish`` does.
    ``on_stage(name)`` is called after each stage."""
    resolved = str(resolve_root(os.fspath(root) if root is not None else ""))
    opts = processing_options(**options)
    if dask is None:
        return _core.finish_run(resolved, project, run, opts, None, on_stage)
    from . import dask as _dask
    if not os.path.isfile(os.path.join(resolved, project, run, "sextant.db")):
        # Before the executor creates its folder in a run that does not exist.
        raise _core.NotFoundError(f"no run '{project}/{run}' under '{resolved}'")
    work_dir = os.fspath(dask_work_dir) if dask_work_dir is not None else _shard_work_dir(
        resolved, project, run)
    return _dask.finish_with_dask(
        lambda executor: _core.finish_run(resolved, project, run, opts, executor, on_stage),
        dask, work_dir, worker_memory=worker_memory, transfer=dask_transfer)


def flush() -> None:
    """Waits until every logged batch is on disk; raises a pending write error."""
    _client().flush()


def current_run() -> Optional[tuple[str, str, str]]:
    """(root, project, run) of the open run, else of the last one opened, else None."""
    with _lock:
        run = _current or _last
    return None if run is None else (run.root, run.project, run.run)
