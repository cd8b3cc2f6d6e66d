"""Reading a finished run back: the summary as a dict, the samples as a DataFrame.

Both read through the engine's query layer (results.h), as the CLI does, so
the values are the CLI's. By default they read the run opened last by
``init`` in this process.
"""

from __future__ import annotations

import json
import os
from typing import Any, Optional, Sequence

import numpy as np

from . import _api
from ._core import (InvalidArgumentError, RunReader, SampleQuery, SpanQuery, list_runs as _list_runs,
                    resolve_root)


def _run_location(project_name: Optional[str], run_name: Optional[str],
                  root: Optional[str | os.PathLike[str]]) -> tuple[str, str, str]:
    current = _api.current_run()
    if root is None:
        root = current[0] if current and project_name is None else ""
    resolved = str(resolve_root(os.fspath(root)))
    if project_name is None or run_name is None:
        if current is None:
            raise InvalidArgumentError(
                "project_name, run_name: no run was opened by sextant.init() in this process; "
                "name the run to read")
        project_name = project_name or current[1]
        run_name = run_name or current[2]
    return resolved, project_name, run_name


def _server_for(project_name: Optional[str], run_name: Optional[str],
                root: Optional[str | os.PathLike[str]]) -> Optional[tuple]:
    """The team server to read runs from: that of the run opened last when it
    was logged to one (and no root was named), else None (local)."""
    if root is not None:
        return None
    with _api._lock:
        last = _api._current or _api._last
    if last is None or last.remote is None:
        return None
    return last.remote  # another run named: read it from the same server


def _server_get(remote: tuple, path: str, params: dict[str, Any]) -> bytes:
    from urllib.parse import quote, urlencode

    from . import _core

    query = urlencode({k: v for k, v in params.items() if v is not None})
    return _core.remote_get(remote, quote(path) + ("?" + query if query else ""))


def open_run(project_name: Optional[str] = None, run_name: Optional[str] = None,
             root: Optional[str | os.PathLike[str]] = None) -> RunReader:
    """A read-only snapshot of the run's last finish (the engine's RunReader)."""
    return RunReader.open(*_run_location(project_name, run_name, root))


def list_runs(root: Optional[str | os.PathLike[str]] = None) -> list[dict[str, Any]]:
    """Every run under the root: project, run, labels, splits and sizes; a run that cannot
    be read is listed with status "damaged" and its error (others have status "ok")."""
    return _list_runs(str(resolve_root(os.fspath(root) if root is not None else "")))


def get_summary(project_name: Optional[str] = None, run_name: Optional[str] = None,
                split: Optional[str] = None, inference_name: Optional[str] = None,
                root: Optional[str | os.PathLike[str]] = None) -> dict[str, Any]:
    """The stored results (docs/api.md, "Summary JSON"): the whole run, or one split."""
    if split is None and inference_name:
        split = "inference"
    remote = _server_for(project_name, run_name, root)
    if remote is not None:
        _, project, run = _run_location(project_name, run_name, "")
        key = None if split is None else (f"inference:{inference_name}" if split == "inference"
                                          else split)
        return json.loads(_server_get(remote, f"/api/runs/{project}/{run}/summary",
                                      {"split": key}))
    reader = open_run(project_name, run_name, root)
    return json.loads(reader.summary_json(split, inference_name or ""))


def _timeline_json(project_name: Optional[str], run_name: Optional[str],
                   root: Optional[str | os.PathLike[str]]) -> dict[str, Any]:
    remote = _server_for(project_name, run_name, root)
    if remote is not None:
        _, project, run = _run_location(project_name, run_name, "")
        return json.loads(_server_get(remote, f"/api/runs/{project}/{run}/timeline", {}))
    return json.loads(open_run(project_name, run_name, root).timeline_json())


def get_timeline(project_name: Optional[str] = None, run_name: Optional[str] = None,
                 root: Optional[str | os.PathLike[str]] = None, *, label: Optional[str] = None,
                 include_reference: bool = False, raw: bool = False) -> Any:
    """The run's inference sets in time order with their monitoring metrics
    (docs/timeline.md), as stored at finish: a DataFrame with one row per set
    (``set``, ``time`` as a UTC datetime, ``time_source``, then per metric its
    value and ``<metric>_low`` / ``<metric>_high`` interval bounds, and the
    ``drift_verdict`` and ``domain_shifted`` flags).

    ``label``: the per-class metrics of that class instead of the overall
    ones. ``include_reference``: training and validation as the first rows.
    ``raw``: the timeline JSON as a dict instead of a DataFrame.
    """
    import pandas as pd

    t = _timeline_json(project_name, run_name, root)
    if raw:
        return t
    if label is not None and label not in t.get("labels", []):
        raise InvalidArgumentError(f"label: '{label}' is not a label of this run "
                                   f"(labels: {t.get('labels', [])})")
    entries = list(t["sets"])
    if include_reference:
        entries = [t["reference"][k] for k in ("training", "validation")
                   if k in t.get("reference", {})] + entries
    rows = []
    for e in entries:
        row: dict[str, Any] = {"set": e["name"], "split": e["split"],
                               "time": pd.to_datetime(e["time"], unit="s", utc=True)
                               if e.get("time") is not None else pd.NaT,
                               "time_source": e.get("time_source")}
        block = e["per_class"][label] if label is not None else e["metrics"]
        for name, m in block.items():
            row[name] = None if m is None else m["value"]
            row[f"{name}_low"] = None if m is None else m["low"]
            row[f"{name}_high"] = None if m is None else m["high"]
        if label is None:
            row["drift_verdict"] = e.get("drift_verdict")
            row["domain_shifted"] = e.get("domain_shifted")
            row["estimate_method"] = e.get("estimate_method")
        else:
            row["class"] = label
        rows.append(row)
    return pd.DataFrame(rows)


def get_dataframe(split: str, inference_name: Optional[str] = None, include_embs: bool = False,
                  include_probs: bool = False, *, project_name: Optional[str] = None,
                  run_name: Optional[str] = None, root: Optional[str | os.PathLike[str]] = None,
                  drifted: Optional[bool] = None, on_boundary: Optional[bool] = None,
                  correct: Optional[bool] = None, misclassified: Optional[bool] = None,
                  pred_class: Optional[str] = None, gold_class: Optional[str] = None,
                  min_confidence: Optional[float] = None, max_confidence: Optional[float] = None,
                  min_dep: Optional[float] = None, max_dep: Optional[float] = None,
                  text_regex: Optional[str] = None, ids: Optional[Sequence[Any]] = None,
                  sort_by: str = "row", descending: bool = False, limit: Optional[int] = None,
                  offset: int = 0, expand_meta: bool = True, shifted: Optional[bool] = None,
                  min_shift: Optional[float] = None, max_shift: Optional[float] = None) -> Any:
    """The per-sample results of one split as a pandas DataFrame, one row per sample.

    Columns: the sample fields of docs/api.md (id, split, inference_name, row,
    text, gold, pred, confidence, margin, certainty_ratio, entropy,
    is_on_the_boundary, epoch, is_correct, aum, dep, drift_distance,
    drift_score, is_drifted, shift_score, is_shifted, x, y), each meta column, and with
    ``include_probs`` a ``prob`` column (an array in label order per row), with
    ``include_embs`` an ``emb`` column (the embedding). Filters combine (AND):
    ``drifted``, ``on_boundary``, ``correct`` (``misclassified=True`` is
    ``correct=False``), ``pred_class``, ``gold_class``, confidence and DEP
    bounds, ``shifted`` and the shift score bounds ``min_shift``/``max_shift``
    (inference sets with a domain test; docs/algorithms.md), ``text_regex`` (RE2 syntax, case-insensitive search; docs/http-api.md#text-search)
    and ``ids``.
    """
    import pandas as pd

    remote = _server_for(project_name, run_name, root)
    if remote is not None:
        # From the team server: its export (docs/http-api.md, Export), with the filters it takes.
        import io

        _, project, run = _run_location(project_name, run_name, "")
        key = f"inference:{inference_name}" if split == "inference" else str(split)
        body = _server_get(remote, f"/api/runs/{project}/{run}/export", {
            "split": key, "format": "jsonl",
            "drifted": None if drifted is None else str(drifted).lower(),
            "on_boundary": None if on_boundary is None else str(on_boundary).lower(),
            "pred": pred_class, "gold": gold_class, "min_confidence": min_confidence,
            "max_confidence": max_confidence, "text": text_regex,
            "shifted": None if shifted is None else str(shifted).lower(),
            "min_shift": min_shift, "max_shift": max_shift})
        df = pd.read_json(io.BytesIO(body), lines=True, dtype={"id": str})
        return df if limit is None else df.iloc[offset:offset + int(limit)]

    if misclassified is not None:
        if correct is not None and correct == misclassified:
            raise InvalidArgumentError("correct, misclassified: they contradict each other")
        correct = not misclassified
    q = SampleQuery(str(split), inference_name or "")
    q.is_drifted = drifted
    q.is_on_the_boundary = on_boundary
    q.is_correct = correct
    q.pred_class = pred_class
    q.gold_class = gold_class
    q.min_confidence = min_confidence
    q.max_confidence = max_confidence
    q.min_dep = min_dep
    q.max_dep = max_dep
    q.is_shifted = shifted
    q.min_shift = min_shift
    q.max_shift = max_shift
    q.text_regex = text_regex
    if ids is not None:
        from ._convert import to_ids

        q.ids = to_ids(ids)
    q.sort_by = sort_by
    q.descending = descending
    q.offset = offset
    q.limit = -1 if limit is None else int(limit)
    q.include_probs = include_probs
    q.include_embeddings = include_embs
    reader = open_run(project_name, run_name, root)
    cols = reader.samples(q)
    n = len(cols["id"])
    split_name = str(cols.pop("split"))
    data: dict[str, Any] = {"id": cols.pop("id")}
    data["split"] = [split_name.split(":", 1)[0]] * n
    data["inference_name"] = [inference_name if split_name.startswith("inference") else None] * n
    meta = cols.pop("meta")
    prob = cols.pop("probs", None)
    emb = cols.pop("embedding", None)
    data.update(cols)
    df = pd.DataFrame(data)
    if expand_meta:
        parsed = [json.loads(m) for m in meta]
        keys: list[str] = []
        for m in parsed:
            for k in m:
                if k not in keys:
                    keys.append(k)
        for k in keys:
            df[k if k not in df.columns else f"meta_{k}"] = [m.get(k) for m in parsed]
    else:
        df["meta"] = meta
    if prob is not None:
        df["prob"] = list(np.asarray(prob))
    if emb is not None:
        df["emb"] = list(np.asarray(emb))
    return df


def get_span_dataframe(split: str, inference_name: Optional[str] = None, *,
                       project_name: Optional[str] = None, run_name: Optional[str] = None,
                       root: Optional[str | os.PathLike[str]] = None,
                       label: Optional[str] = None, gold: Optional[str] = None,
                       pred: Optional[str] = None, error_type: Optional[str] = None,
                       drifted: Optional[bool] = None, on_boundary: Optional[bool] = None,
                       min_confidence: Optional[float] = None,
                       max_confidence: Optional[float] = None, text_regex: Optional[str] = None,
                       sample_id: Optional[Any] = None, sort_by: str = "span_row",
                       descending: bool = False, limit: Optional[int] = None,
                       offset: int = 0) -> Any:
    """The span rows of one split of an NER run as a pandas DataFrame (docs/ner-nli.md).

    Columns: sample_id, span_row, sample_row, span_start, span_end, span_text,
    gold, pred, error_type, confidence, certainty_ratio, is_on_the_boundary,
    dep, drift_distance, drift_score, is_drifted, x, y. Filters combine (AND).
    """
    import pandas as pd

    q = SpanQuery(str(split), inference_name or "")
    q.label = label
    q.gold = gold
    q.pred = pred
    q.error_type = error_type
    q.is_drifted = drifted
    q.is_on_the_boundary = on_boundary
    q.min_confidence = min_confidence
    q.max_confidence = max_confidence
    q.text_regex = text_regex
    q.sample_id = None if sample_id is None else str(sample_id)
    q.sort_by = sort_by
    q.descending = descending
    q.offset = offset
    q.limit = -1 if limit is None else int(limit)
    reader = open_run(project_name, run_name, root)
    return pd.DataFrame(reader.spans(q))


def get_similar_spans(split: str, span_row: int, inference_name: Optional[str] = None, k: int = 10,
                      search_in: Optional[Sequence[str]] = None, *,
                      project_name: Optional[str] = None, run_name: Optional[str] = None,
                      root: Optional[str | os.PathLike[str]] = None) -> Any:
    """The k span rows of an NER run nearest (cosine, span embeddings) to one, as a
    DataFrame: the span-row columns of get_span_dataframe plus ``split`` and
    ``distance``, nearest first. ``search_in`` names splits ("training",
    "inference:NAME"); every split when None."""
    import pandas as pd

    reader = open_run(project_name, run_name, root)
    found = reader.similar_spans(str(split), inference_name or "", int(span_row), int(k),
                                 list(search_in or []))
    rows = []
    for neighbor_split, row, distance in found:
        name, _, inference = neighbor_split.partition(":")
        q = SpanQuery(name, inference)
        q.span_row = row
        cols = reader.spans(q)
        record = {key: (value[0] if len(value) else None) for key, value in cols.items()}
        record["split"] = neighbor_split
        record["distance"] = distance
        rows.append(record)
    return pd.DataFrame(rows)
