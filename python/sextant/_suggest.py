"""Label suggestions: which samples to label next, with the reasons
(docs/labeling.md). The strategies run in the engine (sextant/suggest.h), as for
``sextant suggest`` and ``GET .../suggest``.
"""

from __future__ import annotations

import json
import os
from typing import Any, Optional

from . import _core
from ._core import InvalidArgumentError
from ._results import _run_location, _server_for, _server_get, open_run

COLUMNS = ["id", "rank", "score", "reasons", "text", "pred", "confidence", "margin",
           "drift_score", "shift_score", "is_drifted", "is_shifted", "split", "scores"]


def suggest_labels(split: str = "inference", inference_name: Optional[str] = None,
                   budget: int = 100, strategy: str = "default", label: Optional[str] = None,
                   per_class: bool = False, seed: int = 0,
                   project_name: Optional[str] = None, run_name: Optional[str] = None,
                   root: Optional[str | os.PathLike[str]] = None, *, raw: bool = False,
                   weights: Optional[dict[str, float]] = None) -> Any:
    """The ``budget`` samples of a split to label next, best first.

    ``strategy``: ``"default"`` (uncertainty, shift and novelty, picked with a
    diversity discount), ``"random"`` (seeded by ``seed``), ``"uncertainty"``
    (smallest margin first), ``"drift"`` (highest shift score, else drift score)
    or ``"diverse"`` (k-center on the embeddings). ``label``: only samples
    predicted as that class; ``per_class``: the budget split over the predicted
    classes in proportion. Near-duplicates of training samples, and all but one of
    a group of near-duplicates, are never suggested.

    Returns a DataFrame, one row per suggestion in rank order: ``id``, ``rank``,
    ``score``, ``reasons`` (list of sentences), ``text``, ``pred``, ``confidence``,
    ``margin``, ``drift_score``, ``shift_score``, ``is_drifted``, ``is_shifted``,
    ``split`` (the split's key, as selections take it) and ``scores`` (dict);
    ``df.attrs`` holds ``strategy``, ``pool`` and ``excluded_duplicates``.
    ``raw=True``: the API's JSON as a dict instead. ``weights`` (local runs, for
    simulations): the default strategy's ``uncertainty``, ``shift``, ``novelty``
    weights and ``coverage_cap`` instead of the engine's constants
    (include/sextant/suggest.h).
    """
    import pandas as pd

    if ":" in split:
        split, _, name = split.partition(":")
        if inference_name is not None and inference_name != name:
            raise InvalidArgumentError(
                f"inference_name: '{inference_name}' does not match split '{split}:{name}'")
        inference_name = name
    if split == "inference" and not inference_name:
        raise InvalidArgumentError("inference_name: required with split='inference'")
    if isinstance(budget, bool) or not isinstance(budget, int):
        raise InvalidArgumentError(f"budget: expected an integer, got {budget!r}")
    remote = _server_for(project_name, run_name, root)
    if remote is not None and weights:
        raise InvalidArgumentError("weights: only for runs read locally (name the root)")
    if remote is not None:
        _, project, run = _run_location(project_name, run_name, "")
        params = {"split": split, "inference_name": inference_name or None, "budget": budget,
                  "strategy": strategy, "class": label,
                  "per_class": "true" if per_class else None, "seed": seed}
        result = json.loads(_server_get(remote, f"/api/runs/{project}/{run}/suggest", params))
    else:
        reader = open_run(project_name, run_name, root)
        result = json.loads(_core.suggest_json(reader, split, inference_name or "", budget,
                                               strategy, label, per_class, seed,
                                               dict(weights or {})))
    if raw:
        return result
    rows = [{c: s.get(c) for c in COLUMNS} for s in result["suggestions"]]
    df = pd.DataFrame(rows, columns=COLUMNS)
    for key in ("strategy", "pool", "excluded_duplicates", "budget"):
        df.attrs[key] = result.get(key)
    return df
