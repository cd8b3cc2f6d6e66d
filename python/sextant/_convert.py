"""Turning what a PyTorch script has in hand into what the engine takes.

Arrays become C-contiguous float32 numpy arrays (torch tensors on any device,
with or without grad, any float dtype; numpy arrays; nested lists); ids become
strings; datasets (a pandas DataFrame, a dict of columns, an iterable of dicts)
become columns. Wrong shapes and types raise InvalidArgumentError naming the
argument, before anything reaches the engine.
"""

from __future__ import annotations

import datetime
import numbers
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np

from ._core import InvalidArgumentError


def _is_torch_tensor(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "detach") and hasattr(x, "numpy")


# torch.Tensor and torch.float32 once the caller has handed over a tensor: the
# forward-pass path compares types against them instead of importing torch.
_TENSOR: Optional[type] = None
_FLOAT32: Any = None


def _remember_torch(x: Any) -> None:
    global _TENSOR, _FLOAT32
    import torch  # only when the caller already uses torch

    if isinstance(x, torch.Tensor):
        _TENSOR, _FLOAT32 = torch.Tensor, torch.float32


def _tensor_to_numpy(x: Any, field: str) -> np.ndarray:
    """A torch tensor (any device, dtype, with or without grad) as a float32 CPU array."""
    import torch  # only when the caller already uses torch

    if x.is_complex():
        raise InvalidArgumentError(f"{field}: complex tensors are not supported")
    x = x.detach()
    if x.dtype != torch.float32 or x.device.type != "cpu":
        x = x.to(device="cpu", dtype=torch.float32)
    return x.numpy()


def to_matrix(x: Any, field: str) -> Any:
    """`x` as the engine reads a matrix: a 2-D C-contiguous float32 numpy array,
    or a torch tensor that is already CPU, float32, 2-D and C-contiguous (the
    engine reads it in place, with or without grad). Anything else is converted."""
    # The common cases inside a forward pass, kept to a few attribute reads.
    t = type(x)
    if t is _TENSOR and x.dtype is _FLOAT32 and x.is_cpu and x.dim() == 2 and x.is_contiguous():
        return x
    if t is np.ndarray and x.dtype == np.float32 and x.ndim == 2 and x.flags.c_contiguous:
        return x
    if _is_torch_tensor(x):
        _remember_torch(x)
        x = _tensor_to_numpy(x, field)
    try:
        a = np.asarray(x)
    except (ValueError, TypeError) as e:  # ragged lists
        raise InvalidArgumentError(f"{field}: not a rectangular array of numbers ({e})") from None
    if a.dtype.kind not in "fiub":
        raise InvalidArgumentError(
            f"{field}: expected numbers (any float dtype), got an array of dtype {a.dtype}")
    if a.ndim != 2:
        raise InvalidArgumentError(
            f"{field}: expected a 2-D array (samples x values), got shape {tuple(a.shape)}")
    return np.ascontiguousarray(a, dtype=np.float32)


def _id_to_str(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, float) and v.is_integer():  # ids read through a column with NaN
        return str(int(v))
    return str(v)


def to_output_ids(ids: Any) -> Any:
    """Ids of an outputs batch as the engine reads them: a list or tuple (of str
    and int; other items make the engine call to_ids()), a 1-D integer array
    (the engine formats it, which is cheaper inside a forward pass), else to_ids()."""
    t = type(ids)
    if t is list or t is tuple:
        return ids
    if _is_torch_tensor(ids) and not ids.is_floating_point() and ids.dim() == 1:
        ids = ids.detach().cpu().numpy()
    if type(ids) is np.ndarray and ids.dtype.kind == "i" and ids.ndim == 1:
        return ids
    return to_ids(ids)


def to_ids(ids: Any, field: str = "ids") -> list[str]:
    """Sample ids as strings: a tensor, a numpy array, or a sequence of ints or strings."""
    if ids is None:
        raise InvalidArgumentError(f"{field}: required")
    if _is_torch_tensor(ids):
        ids = ids.detach().cpu().numpy()
    if isinstance(ids, np.ndarray):
        if ids.dtype.kind in "iu":  # the common case, inside a forward pass: keep it cheap
            return list(map(str, ids.reshape(-1).tolist()))
        ids = ids.reshape(-1).tolist()
    elif isinstance(ids, (str, bytes)):
        raise InvalidArgumentError(f"{field}: expected a sequence of ids, got a single string")
    ids = list(ids)
    if all(type(v) is str for v in ids):
        return ids
    return [_id_to_str(v) for v in ids]


def to_labels(values: Sequence[Any]) -> tuple[Optional[list[str]], Optional[list[int]]]:
    """(names, None) or (None, indices): integers are positions in the run's label list."""
    vals = list(values)
    if vals and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in vals):
        return None, [int(v) for v in vals]
    return [str(v) for v in vals], None


def _column(columns: Mapping[str, Any], name: str, arg: str, required: bool) -> Optional[list[Any]]:
    if name in columns:
        col = columns[name]
        if hasattr(col, "tolist"):
            return list(col.tolist())
        return list(col)
    if required:
        raise InvalidArgumentError(
            f"{arg}: column '{name}' is not in the dataset (columns: {', '.join(map(str, columns))})")
    return None


def dataset_columns(dataset: Any) -> Mapping[str, Any]:
    """A DataFrame, a dict of columns, or an iterable of dicts, as a mapping of columns."""
    try:
        import pandas as pd

        if isinstance(dataset, pd.DataFrame):
            return {str(c): dataset[c] for c in dataset.columns}
    except ImportError:  # pragma: no cover - pandas is a dependency of get_dataframe only
        pass
    if isinstance(dataset, Mapping):
        return {str(k): v for k, v in dataset.items()}
    if isinstance(dataset, (str, bytes)) or not isinstance(dataset, Iterable):
        raise InvalidArgumentError(
            "dataset: expected a pandas DataFrame, a dict of columns or an iterable of dicts, "
            f"got {type(dataset).__name__}")
    rows = list(dataset)
    columns: dict[str, list[Any]] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InvalidArgumentError(
                f"dataset: row {i} is a {type(row).__name__}; expected a dict of column values")
        for k in row:
            columns.setdefault(str(k), [])
    for i, row in enumerate(rows):
        for k, col in columns.items():
            col.append(row.get(k))
    return columns


def dataset_fields(dataset: Any, *, text: Optional[str], id: str, label: Optional[str],
                   labeled: bool, meta: Optional[Sequence[str]]):
    """(ids, texts (None without `text`), labels or None, meta columns) from a dataset."""
    columns = dataset_columns(dataset)
    ids = to_ids(_column(columns, id, "id", True), "ids")
    texts = None
    if text is not None:
        texts_raw = _column(columns, text, "text", True)
        assert texts_raw is not None
        texts = ["" if t is None else str(t) for t in texts_raw]
    labels = _column(columns, label, "label", True) if (labeled and label) else None
    meta_columns = meta_to_columns(columns, meta)
    return ids, texts, labels, meta_columns


def _meta_value(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    return str(v)


def meta_to_columns(columns: Mapping[str, Any],
                    meta: Optional[Sequence[str] | Mapping[str, Any]]) -> list[tuple[str, list[str]]]:
    """Meta columns as (name, values as text): `meta` names columns of the dataset."""
    if meta is None:
        return []
    if isinstance(meta, str):
        meta = [meta]
    out = []
    for name in meta:
        values = _column(columns, name, "meta", True)
        assert values is not None
        out.append((str(name), [_meta_value(v) for v in values]))
    return out


def column(columns: Mapping[str, Any], name: str, arg: str) -> list[Any]:
    """A required column of a dataset as a list."""
    values = _column(columns, name, arg, True)
    assert values is not None
    return values


def to_texts(texts: Optional[Sequence[Any]]) -> list[str]:
    """Texts as strings (None becomes ""); no texts is an empty list."""
    if texts is None:
        return []
    if isinstance(texts, (str, bytes)):
        raise InvalidArgumentError("texts: expected a sequence of texts, got a single string")
    return ["" if t is None else str(t) for t in texts]


def to_token_offsets(offsets: Optional[Sequence[Any]]) -> list[list[tuple[int, int]]]:
    """NER token offsets: per sample a list of (start, end) character pairs."""
    if offsets is None:
        return []
    out = []
    for i, sample in enumerate(offsets):
        if hasattr(sample, "tolist"):
            sample = sample.tolist()
        try:
            out.append([(int(a), int(b)) for a, b in sample])
        except (TypeError, ValueError):
            raise InvalidArgumentError(
                f"text_token_indices: sample {i} is not a list of (start, end) pairs") from None
    return out


def to_gold_spans(spans: Sequence[Any]) -> list[list[tuple[int, int, str]]]:
    """NER gold spans: per sample a list of {"start", "end", "label"} (or (start, end, label))."""
    out = []
    for i, sample in enumerate(spans):
        if sample is None or (isinstance(sample, float) and sample != sample):
            out.append([])
            continue
        row = []
        for span in sample:
            try:
                if isinstance(span, Mapping):
                    row.append((int(span["start"]), int(span["end"]), str(span["label"])))
                else:
                    start, end, label = span
                    row.append((int(start), int(end), str(label)))
            except (KeyError, TypeError, ValueError):
                raise InvalidArgumentError(
                    f"gold_spans: sample {i} has {span!r}; expected {{'start', 'end', 'label'}}"
                ) from None
        out.append(row)
    return out


def to_token_rows(x: Any, field: str) -> tuple[np.ndarray, int, list[int]]:
    """NER outputs as (rows, padded length, counts): a [B, T, D] array or tensor
    gives B*T rows and T; a list of [T_i, D] per sample gives the rows
    concatenated and each T_i."""
    if isinstance(x, (list, tuple)):
        parts = [to_matrix(part, field) for part in x]
        if not parts:
            raise InvalidArgumentError(f"{field}: empty batch; expected at least one sample")
        return np.ascontiguousarray(np.concatenate(parts, axis=0)), 0, [len(p) for p in parts]
    if _is_torch_tensor(x):
        x = _tensor_to_numpy(x, field)
    a = np.asarray(x)
    if a.ndim != 3:
        raise InvalidArgumentError(
            f"{field}: NER outputs are a [batch, tokens, width] array or a list of [tokens, "
            f"width] arrays per sample, got shape {tuple(a.shape)}")
    if a.dtype.kind not in "fiub":
        raise InvalidArgumentError(f"{field}: expected numbers, got an array of dtype {a.dtype}")
    b, t, d = a.shape
    return np.ascontiguousarray(a.reshape(b * t, d), dtype=np.float32), int(t), []


def to_unix_seconds(value: Any, field: str = "timestamp") -> Optional[float]:
    """Unix seconds (UTC) from a number, a datetime (naive means UTC), a pandas
    Timestamp, a numpy datetime64 or an ISO 8601 string; None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"{field}: expected a time, got a bool")
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, np.datetime64):
        return float(value.astype("datetime64[ns]").astype(np.int64)) / 1e9
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{field}: '{value}' is not an ISO 8601 time "
                             "(e.g. 2026-12-06 or 2026-12-06T08:00:00Z)") from None
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        value = datetime.datetime(value.year, value.month, value.day)
    if isinstance(value, datetime.datetime):  # pandas Timestamp is one
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.timestamp()
    raise TypeError(f"{field}: expected Unix seconds, a datetime or an ISO 8601 string, "
                    f"got {type(value).__name__}")
