# Stubs of the private extension module (bindings/python). Use the `sextant` package instead.
from __future__ import annotations

import enum
import os
import pathlib
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

class SextantError(Exception): ...
class InvalidArgumentError(SextantError, ValueError): ...
class NotFoundError(SextantError, LookupError): ...
class AlreadyExistsError(SextantError, ValueError): ...
class FailedPreconditionError(SextantError, RuntimeError): ...
class SextantIOError(SextantError, OSError): ...
class InternalError(SextantError, RuntimeError): ...

class DriftReference(enum.Enum):
    auto = ...
    training_loo = ...
    validation = ...

class NnSearch(enum.Enum):
    auto = ...
    exact = ...
    approximate = ...

class ProcessingOptions:
    boundary_ratio_threshold: float
    drift_k: int
    drift_percentile: float
    drift_reference: DriftReference
    drift_reference_sample_size: int
    drift_seed: int
    drift_alpha: float
    threads: int
    concurrent_stages: bool
    nn_search: NnSearch
    nn_auto_min_values: int
    store_float16: bool
    build_similarity_index: bool
    compute_map: bool
    map_n_neighbors: int
    map_min_dist: float
    map_max_points: int
    map_seed: int
    map_incremental: bool
    def __init__(self) -> None: ...

def split_key(split: str, inference_name: str = "") -> str: ...
def resolve_root(root: os.PathLike[str] | str = "") -> pathlib.Path: ...

FloatArray = npt.NDArray[np.float32]

class Client:
    @staticmethod
    def init(root: str, project: str, run: str, task: str,
             max_pending_bytes: Optional[int] = None) -> Client: ...
    def set_labels_for_run(self, labels: Sequence[str]) -> None: ...
    @property
    def labels(self) -> list[str]: ...
    @property
    def run_dir(self) -> pathlib.Path: ...
    @property
    def closed(self) -> bool: ...
    def set_split(self, split: str, inference_name: str = "",
                  timestamp: Optional[float] = None) -> None: ...
    def set_epoch(self, epoch: int) -> None: ...
    def log_data_samples(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        labels: Optional[Sequence[str]] = None,
        label_indices: Optional[Sequence[int]] = None,
        meta: Sequence[tuple[str, Sequence[str]]] = ...,
        split: Optional[str] = None,
        inference_name: str = "",
        skip_if_identical: bool = False,
        premises: Sequence[str] = ...,
        hypotheses: Sequence[str] = ...,
        token_offsets: Sequence[Sequence[tuple[int, int]]] = ...,
        gold_spans: Optional[Sequence[Sequence[tuple[int, int, str]]]] = None,
    ) -> None: ...
    def set_tagging_schema(self, schema: str) -> None: ...
    def log_model_outputs(
        self,
        ids: Union[Sequence[str], np.ndarray],  # or a 1-D signed integer array
        embs: FloatArray,
        logits: Optional[FloatArray] = None,
        probs: Optional[FloatArray] = None,
        split: Optional[str] = None,
        inference_name: str = "",
        epoch: Optional[int] = None,
        tokens_per_sample: int = 0,
        token_counts: Sequence[int] = ...,
    ) -> None: ...
    def check_model_outputs(
        self,
        ids: Union[Sequence[str], np.ndarray],  # or a 1-D signed integer array
        embs: FloatArray,
        logits: Optional[FloatArray] = None,
        probs: Optional[FloatArray] = None,
        split: Optional[str] = None,
        inference_name: str = "",
        epoch: Optional[int] = None,
        tokens_per_sample: int = 0,
        token_counts: Sequence[int] = ...,
    ) -> None: ...
    def flush(self) -> None: ...
    def finish(
        self,
        options: ProcessingOptions = ...,
        wait: bool = True,
        timeout_s: float = 0.0,
        progress: Optional[Callable[[str], None]] = None,
        executor: Optional[ShardExecutor] = None,
    ) -> dict[str, Any]: ...
    def close(self) -> None: ...

SHARD_ROW_ALIGNMENT: int

class ShardTask:
    kind: str
    spec: str
    shared_files: list[str]
    def __init__(self, kind: str, spec: str, shared_files: Sequence[str] = ...) -> None: ...

class ShardExecutor:
    """Subclass it: work_dir(), worker_memory_bytes() and run(stage, tasks)."""
    def __init__(self) -> None: ...
    def work_dir(self) -> str: ...
    def worker_memory_bytes(self) -> int: ...
    def run(self, stage: str, tasks: list[ShardTask]) -> list[bytes]: ...

class InProcessShardExecutor(ShardExecutor):
    def __init__(self, work_dir: str, worker_memory_bytes: int = 0) -> None: ...
    @property
    def tasks_run(self) -> int: ...

def run_shard_task(kind: str, spec: str, work_dir: str) -> bytes: ...
def finish_run(
    root: os.PathLike[str] | str,
    project: str,
    run: str,
    options: ProcessingOptions = ...,
    executor: Optional[ShardExecutor] = None,
    on_stage: Optional[Callable[[str], None]] = None,
) -> dict[str, Any]: ...

class SampleQuery:
    is_drifted: Optional[bool]
    is_on_the_boundary: Optional[bool]
    is_correct: Optional[bool]
    gold_class: Optional[str]
    pred_class: Optional[str]
    min_confidence: Optional[float]
    max_confidence: Optional[float]
    min_dep: Optional[float]
    max_dep: Optional[float]
    is_shifted: Optional[bool]
    min_shift: Optional[float]
    max_shift: Optional[float]
    text_regex: Optional[str]
    ids: list[str]
    sort_by: str
    descending: bool
    offset: int
    limit: int
    include_probs: bool
    include_embeddings: bool
    def __init__(self, split: str, inference_name: str = "") -> None: ...

class SpanQuery:
    def __init__(self, split: str, inference_name: str = "") -> None: ...
    label: Optional[str]
    gold: Optional[str]
    pred: Optional[str]
    error_type: Optional[str]
    is_drifted: Optional[bool]
    is_on_the_boundary: Optional[bool]
    min_confidence: Optional[float]
    max_confidence: Optional[float]
    text_regex: Optional[str]
    sample_id: Optional[str]
    span_row: Optional[int]
    sort_by: str
    descending: bool
    offset: int
    limit: int

class RunReader:
    @staticmethod
    def open(root: os.PathLike[str] | str, project: str, run: str) -> RunReader: ...
    @property
    def info(self) -> dict[str, Any]: ...
    @property
    def generation(self) -> int: ...
    def committed_generation(self) -> int: ...
    def summary_json(self, split: Optional[str] = None, inference_name: str = "") -> str: ...
    def timeline_json(self) -> str: ...
    def samples(self, query: SampleQuery) -> dict[str, Any]: ...
    def count(self, query: SampleQuery) -> int: ...
    def spans(self, query: SpanQuery) -> dict[str, Any]: ...
    def similar_spans(self, split: str, inference_name: str, span_row: int, k: int = 10,
                      search_in: Sequence[str] = ...) -> list[tuple[str, int, float]]: ...

def list_runs(root: os.PathLike[str] | str) -> list[dict[str, Any]]: ...

# A project's alert rules and states (docs/alerts.md), as JSON text.
def alerts_list_rules(root: os.PathLike[str] | str, project: str) -> str: ...
def alerts_add_rule(root: os.PathLike[str] | str, project: str, rule_json: str) -> str: ...
def alerts_remove_rule(root: os.PathLike[str] | str, project: str, id: str) -> None: ...
def alerts_states(root: os.PathLike[str] | str, project: str, run: str = "") -> str: ...

# Label suggestions (docs/labeling.md), as the JSON of GET .../suggest.
def suggest_json(reader: RunReader, split: str, inference_name: str, budget: int,
                 strategy: str = "default", label: Optional[str] = None, per_class: bool = False,
                 seed: int = 0, weights: dict[str, float] = ...) -> str: ...

def processing_option_specs() -> list[dict[str, Any]]: ...
def set_processing_option(options: ProcessingOptions, name: str, value: str) -> None: ...

def import_labels(root: str | os.PathLike[str], project: str, run: str, split: str,
                  inference_name: str, content: str, format: str, source: str) -> dict[str, int]: ...
