"""A project's alert rules and their states (docs/alerts.md).

Rules are kept with the project (``<root>/<project>/.alerts.db``) and evaluated at
every finish over the run's timeline. By default these functions use the project of
the run opened last by ``init`` in this process.
"""

from __future__ import annotations

import json
import os
from typing import Any, Optional

from . import _api, _core
from ._core import InvalidArgumentError, resolve_root


def _project(project_name: Optional[str],
             root: Optional[str | os.PathLike[str]]) -> tuple[str, str, Optional[tuple]]:
    """(root, project, team server or None) of the call."""
    current = _api.current_run()
    if project_name is None:
        if current is None:
            raise InvalidArgumentError(
                "project_name: no run was opened by sextant.init() in this process; "
                "name the project")
        project_name = current[1]
    remote = None
    if root is None:
        with _api._lock:
            last = _api._current or _api._last
        if last is not None and last.remote is not None:
            remote = last.remote
        root = current[0] if current else ""
    return str(resolve_root(os.fspath(root))), project_name, remote


def _server(remote: tuple, path: str, params: Optional[dict[str, Any]] = None) -> Any:
    from urllib.parse import quote, urlencode

    query = urlencode({k: v for k, v in (params or {}).items() if v is not None})
    return json.loads(_core.remote_get(remote, quote(path) + ("?" + query if query else "")))


def add_alert_rule(metric: str, op: Optional[str] = None, value: Optional[float] = None, *,
                   kind: str = "threshold", class_name: Optional[str] = None,
                   abs: bool = False, first_n: Optional[int] = None, k: Optional[float] = None,
                   id: Optional[str] = None, name: Optional[str] = None,
                   run_name: Optional[str] = None, severity: str = "warning",
                   enabled: bool = True, project_name: Optional[str] = None,
                   root: Optional[str | os.PathLike[str]] = None) -> dict[str, Any]:
    """Adds a rule to the project and returns it (with its id).

    ``add_alert_rule("drifted_share", ">", 0.2)``;
    ``add_alert_rule("per_class.positive.mean_confidence", "<", -0.05, kind="change_from_training")``;
    ``add_alert_rule("estimated_accuracy", kind="band", first_n=5, k=3)``.
    """
    rule: dict[str, Any] = {"metric": metric, "kind": kind, "severity": severity,
                            "enabled": enabled}
    for key, v in (("op", op), ("value", value), ("class", class_name), ("id", id),
                   ("name", name), ("run", run_name)):
        if v is not None:
            rule[key] = v
    if abs:
        rule["abs"] = True
    if first_n is not None or k is not None:
        rule["band"] = {key: v for key, v in (("first_n", first_n), ("k", k)) if v is not None}
    root_dir, project, remote = _project(project_name, root)
    if remote is not None:
        raise InvalidArgumentError(
            "add_alert_rule: this run is on a team server; add rules with `sextant alerts` on "
            "the server's root or POST /api/projects/{project}/alerts/rules")
    return json.loads(_core.alerts_add_rule(root_dir, project, json.dumps(rule)))


def list_alert_rules(project_name: Optional[str] = None,
                     root: Optional[str | os.PathLike[str]] = None) -> list[dict[str, Any]]:
    """The project's rules (the default ones included)."""
    root_dir, project, remote = _project(project_name, root)
    if remote is not None:
        return _server(remote, f"/api/projects/{project}/alerts/rules")["rules"]
    return json.loads(_core.alerts_list_rules(root_dir, project))


def remove_alert_rule(id: str, project_name: Optional[str] = None,
                      root: Optional[str | os.PathLike[str]] = None) -> None:
    """Removes a rule and its states."""
    root_dir, project, remote = _project(project_name, root)
    if remote is not None:
        raise InvalidArgumentError(
            "remove_alert_rule: this run is on a team server; use DELETE "
            "/api/projects/{project}/alerts/rules/{id}")
    _core.alerts_remove_rule(root_dir, project, id)


def get_alert_states(run_name: Optional[str] = None, *, state: Optional[str] = None,
                     project_name: Optional[str] = None,
                     root: Optional[str | os.PathLike[str]] = None) -> list[dict[str, Any]]:
    """Each rule's state per run, inference set and class: dicts with rule_id, run, set,
    class, state (ok, firing, resolved), value, threshold, band, detail, since, updated."""
    root_dir, project, remote = _project(project_name, root)
    if remote is not None:
        states = _server(remote, f"/api/projects/{project}/alerts/states",
                         {"run": run_name})["states"]
    else:
        states = json.loads(_core.alerts_states(root_dir, project, run_name or ""))
    return [s for s in states if state is None or s["state"] == state]
