"""Sextant: how your NLP model behaves on production data.

Log from a PyTorch script in the shape of Galileo's ``dataquality``::

    import sextant as dq
    dq.init(task_type="text_classification", project_name="reviews", run_name="v1")
    dq.set_labels_for_run(["negative", "positive"])
    dq.log_dataset(train_df, split="training")
    dq.set_split("training"); dq.set_epoch(0)
    ...  # in the forward pass: dq.log_model_outputs(embs=emb, logits=logits, ids=ids)
    dq.finish()
    dq.get_dataframe("training")

Everything runs in Sextant's C++ engine (the private ``sextant._core``);
errors are the engine's, raised as the exceptions in ``sextant.errors``.
"""

from ._alerts import add_alert_rule, get_alert_states, list_alert_rules, remove_alert_rule
from ._api import (
    current_run,
    finish,
    finish_run,
    flush,
    get_labels_for_run,
    init,
    log_data_samples,
    log_dataset,
    log_model_outputs,
    get_run_status,
    login,
    logout,
    processing_options,
    set_epoch,
    set_labels_for_run,
    set_split,
    set_tagging_schema,
    sync,
    wait_for_run,
)
from ._core import processing_option_specs
from ._live import close_live, flush_live, live_stats, log_live
from ._results import (get_dataframe, get_similar_spans, get_span_dataframe, get_summary,
                       get_timeline,
                       list_runs, open_run)
from ._labels import get_labeled_dataset, import_labels
from ._suggest import suggest_labels
from .errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    SextantError,
    SextantIOError,
    UnauthenticatedError,
    UnavailableError,
)

from ._core import __version__  # CMake's project(VERSION)

__all__ = [
    "finish_run",
    "AlreadyExistsError",
    "close_live",
    "flush_live",
    "live_stats",
    "log_live",
    "FailedPreconditionError",
    "InternalError",
    "InvalidArgumentError",
    "NotFoundError",
    "PermissionDeniedError",
    "UnauthenticatedError",
    "UnavailableError",
    "SextantError",
    "SextantIOError",
    "current_run",
    "finish",
    "flush",
    "get_dataframe",
    "get_span_dataframe",
    "get_labels_for_run",
    "get_similar_spans",
    "suggest_labels",
    "get_summary",
    "get_timeline",
    "init",
    "list_runs",
    "log_data_samples",
    "log_dataset",
    "log_model_outputs",
    "get_run_status",
    "login",
    "logout",
    "sync",
    "wait_for_run",
    "open_run",
    "processing_option_specs",
    "processing_options",
    "set_epoch",
    "set_labels_for_run",
    "set_split",
    "set_tagging_schema",
]
# Labels coming back from labelers (docs/labeling-tools.md).
__all__ += ["get_labeled_dataset", "import_labels"]
# Alert rules and their states (docs/alerts.md).
__all__ += ["add_alert_rule", "get_alert_states", "list_alert_rules", "remove_alert_rule"]
