"""Sentences of what Sextant found, shared by the examples' printouts."""

from __future__ import annotations

from typing import Any, Optional


def domain_test_text(test: Optional[dict[str, Any]]) -> Optional[str]:
    """One line for a split summary's ``domain_test`` (docs/api.md), or None when the
    test did not run: how well a classifier tells the split from held-out data."""
    if not test or "auc" not in test:
        return None
    low, high = test["auc_ci"]
    p = f"{test['p_value']:.2g}" if test["p_value"] > 0 else f"1e{test['log10_p_value']:.0f}"
    verdict = "shift" if test["shifted"] else "no shift"
    return (f"domain classifier against {test['reference']}: AUC {test['auc']:.3f} "
            f"(95% CI {low:.3f} to {high:.3f}), p = {p}: {verdict} at alpha {test['alpha']}")
