"""The documented defaults of the validation gate and the drift monitor, in one light module.

The CLI reads its option defaults from here (without importing the heavy modules), and the platform config's
`model_gate` / `drift` defaults are tested against these.
"""

from __future__ import annotations

from dataclasses import dataclass

from churn.errors import ChurnError

ENFORCE = "enforce"
DRY_RUN = "dry-run"
GATE_MODES = (ENFORCE, DRY_RUN)


@dataclass(frozen=True)
class GateThresholds:
    """What a challenger must achieve on its hold-out. The platform config (`model_gate`) sets these per env."""

    min_roc_auc: float = 0.80
    """Absolute floor of the challenger's hold-out ROC AUC (Telco's honest range is 0.82-0.85)."""
    max_roc_auc_drop: float = 0.01
    """Largest ROC AUC the challenger may lose against the champion on the same hold-out."""
    max_fairness_gap: float = 0.40
    """Largest equalized odds difference (worst TPR or FPR gap between groups) over the sensitive
    attributes. A policy limit, not a law of nature: the Telco model measures ~0.37 (churners with dependents
    are caught at about half the rate of those without), so 0.40 blocks any model that widens it."""

    def validate(self) -> None:
        for option, value in (
            ("--min-roc-auc", self.min_roc_auc),
            ("--max-roc-auc-drop", self.max_roc_auc_drop),
            ("--max-fairness-gap", self.max_fairness_gap),
        ):
            if not 0 <= value <= 1:
                raise ChurnError(f"{option}: {value} must be between 0 and 1")


@dataclass(frozen=True)
class DriftThresholds:
    """When a shift counts as drift. Defaults are the usual rules of thumb (PSI 0.1 watch, 0.2 act)."""

    psi: float = 0.2
    """PSI at or above which a feature (or the prediction) has shifted enough to matter."""
    alpha: float = 0.01
    """Family-wise significance level of the per-feature tests (Bonferroni-split over the features)."""
    max_roc_auc_decay: float = 0.05
    """Largest tolerated drop of ROC AUC on labelled current rows against the reference ROC AUC."""
    numeric_bins: int = 10
    """Quantile bins of numeric features, cut on the reference."""
    max_categories: int = 10
    """Numeric columns with at most this many distinct reference values are binned by value."""

    def validate(self) -> None:
        if not self.psi > 0:
            raise ChurnError(f"--psi-threshold: {self.psi} must be positive")
        if not 0 < self.alpha < 1:
            raise ChurnError(f"--alpha: {self.alpha} must be between 0 and 1")
        if not 0 <= self.max_roc_auc_decay < 1:
            raise ChurnError(f"--max-roc-auc-decay: {self.max_roc_auc_decay} must be in [0, 1)")
        if self.numeric_bins < 2:
            raise ChurnError(f"--numeric-bins: {self.numeric_bins} must be at least 2")
