"""Labels coming back from labelers (docs/labeling-tools.md).

``import_labels`` stores a file of id,label (CSV or JSONL) or Label Studio's
JSON export as the gold labels of an inference set's samples, in the run's
database; the run then reports them as ``gold`` (with ``is_correct``) for
those samples. ``get_labeled_dataset`` returns the labeled samples as training
data for the next run (id, text, label and the metadata columns).
"""

from __future__ import annotations

import os
import pathlib
from typing import Any, Mapping, Optional

from . import _core
from ._results import _run_location, get_dataframe


def _format_for(path: pathlib.Path) -> str:
    ext = path.suffix.lower()
    if ext == ".csv":
        return "csv"
    if ext in (".jsonl", ".ndjson"):
        return "jsonl"
    if ext == ".json":
        return "labelstudio"
    raise _core.InvalidArgumentError(
        f"path: '{path}': extension '{ext}' does not say the format; use .csv, .jsonl or .json "
        "(Label Studio), or pass format=")


def import_labels(split: str = "inference", inference_name: Optional[str] = None,
                  path: Optional[str | os.PathLike[str]] = None, *,
                  labels: Optional[Mapping[str, str] | Any] = None, format: Optional[str] = None,
                  project_name: Optional[str] = None, run_name: Optional[str] = None,
                  root: Optional[str | os.PathLike[str]] = None) -> dict[str, int]:
    """Stores labels against the samples of inference set ``inference_name``.

    Give ``path``: a CSV or JSONL file of ``id`` (or ``sextant_id``) and
    ``label``, or Label Studio's JSON export of tasks that Sextant exported
    (format by extension, or ``format="csv"|"jsonl"|"labelstudio"``); or
    ``labels``: a dict of id -> label, or a DataFrame with columns id and
    label. All or nothing: an unknown id, a label that is not one of the run's,
    or an id given twice raises InvalidArgumentError naming the line and id,
    and nothing is stored. An id imported again overwrites its earlier label.

    Returns counts: ``imported``, ``overwritten`` (ids that had an imported
    label), ``skipped`` (Label Studio tasks without an annotation), and
    ``labeled`` (the set's imported labels after the import).
    """
    if inference_name is None:
        raise _core.InvalidArgumentError("inference_name: required (the inference set's name)")
    if (path is None) == (labels is None):
        raise _core.InvalidArgumentError("path, labels: give exactly one of them")
    resolved, project, run = _run_location(project_name, run_name, root)
    if path is not None:
        p = pathlib.Path(path)
        fmt = format or _format_for(p)
        content = p.read_text(encoding="utf-8")
        source = p.name
    else:
        import json

        if hasattr(labels, "to_dict") and hasattr(labels, "columns"):
            pairs = zip(labels["id"], labels["label"])
        else:
            pairs = labels.items()
        content = "".join(json.dumps({"id": str(i), "label": str(l)}) + "\n" for i, l in pairs)
        fmt = "jsonl"
        source = "python"
    return _core.import_labels(resolved, project, run, split, inference_name, content, fmt, source)


def get_labeled_dataset(split: str = "inference", inference_name: Optional[str] = None, *,
                        project_name: Optional[str] = None, run_name: Optional[str] = None,
                        root: Optional[str | os.PathLike[str]] = None) -> Any:
    """The labeled samples of a split as a DataFrame ready to log as training
    data: columns id, text (premise and hypothesis for NLI), label, then the
    samples' metadata columns. For an inference set these are the samples
    with imported labels (``sextant labels export-dataset`` writes the same)."""
    import pandas as pd

    df = get_dataframe(split, inference_name, project_name=project_name, run_name=run_name,
                       root=root)
    df = df[df["gold"].notna()] if len(df) else df
    first = ["id", "premise", "hypothesis"] if "premise" in df.columns else ["id", "text"]
    out = pd.DataFrame({c: df[c].values for c in first if c in df.columns})
    out["label"] = df["gold"].values if len(df) else []
    known = set(_core_sample_columns()) | {"premise", "hypothesis", "prob", "emb", "probs"}
    for c in df.columns:
        if c not in known and c not in out.columns:
            out[c] = df[c].values
    return out.reset_index(drop=True)


def _core_sample_columns() -> list[str]:
    return ["id", "split", "inference_name", "row", "text", "gold", "pred", "is_correct",
            "confidence", "margin", "certainty_ratio", "entropy", "is_on_the_boundary", "aum",
            "dep", "drift_distance", "drift_score", "is_drifted", "shift_score", "is_shifted",
            "x", "y", "epoch", "meta", "text_token_indices", "gold_spans", "pred_spans"]
