"""dq's alert rules (docs/alerts.md): added, listed, removed; states read back."""

from __future__ import annotations

import pytest

import sextant as dq


def test_rules_are_added_listed_and_removed(root):
    (root / "reviews").mkdir(parents=True)
    rule = dq.add_alert_rule("drifted_share", ">", 0.2, id="drift20", project_name="reviews",
                             root=root)
    assert rule["id"] == "drift20"
    assert rule["path"] == "metrics.drifted_share"
    band = dq.add_alert_rule("estimated_accuracy", kind="band", first_n=4, k=2,
                             project_name="reviews", root=root)
    assert band["band"] == {"first_n": 4, "k": 2.0}
    change = dq.add_alert_rule("per_class.positive.mean_confidence", "<", -0.05,
                               kind="change_from_training", project_name="reviews", root=root)
    assert change["class"] == "positive"
    ids = [r["id"] for r in dq.list_alert_rules(project_name="reviews", root=root)]
    # The default rules come first.
    assert ids[:4] == ["data_drift", "distribution_shift", "confidence_drop", "class_share_change"]
    assert ids[4:] == ["drift20", band["id"], change["id"]]
    dq.remove_alert_rule("drift20", project_name="reviews", root=root)
    assert "drift20" not in [r["id"] for r in dq.list_alert_rules(project_name="reviews", root=root)]
    assert dq.get_alert_states(project_name="reviews", root=root) == []


def test_errors_name_the_field(root):
    (root / "reviews").mkdir(parents=True)
    with pytest.raises(dq.InvalidArgumentError, match="rule.op"):
        dq.add_alert_rule("drifted_share", "=>", 0.2, project_name="reviews", root=root)
    with pytest.raises(dq.NotFoundError, match="no alert rule 'nope'"):
        dq.remove_alert_rule("nope", project_name="reviews", root=root)
    # Rules may be set before the project's first run: the project folder is made.
    assert len(dq.list_alert_rules(project_name="newproject", root=root)) == 4
    assert (root / "newproject" / ".alerts.db").is_file()
    with pytest.raises(dq.InvalidArgumentError, match="project_name"):
        dq.list_alert_rules(project_name="..", root=root)
