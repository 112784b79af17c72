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
    min_training_rows: int = 1000
    """Fewest labelled rows the challenger may be trained and held out on: below it the hold-out ROC AUC is
    too noisy to trust (80 rows leave a 16-row hold-out)."""
    min_minority_share: float = 0.05
    """Smallest share of the rarer class in the training data (Telco: ~26.5 % churners); below it the feed
    lost a class, not customers."""
    max_roc_auc: float = 0.97
    """Ceiling of the hold-out ROC AUC: churn is not that predictable (honest range 0.82-0.85), so a
    near-perfect score is a leaked label or key to investigate, not a better model."""
    min_pinned_agreement: float = 0.5
    """Smallest Spearman rank correlation between challenger and champion probabilities on the pinned
    evaluation set: two models of the same task rank customers alike; a model trained on inverted or shuffled
    labels does not (near or below 0)."""
    min_pinned_rows: int = 100
    """Fewest pinned rows (of both classes, not trained on by the challenger) for a comparison; with a
    champion and fewer, the comparison cannot be made and the gate blocks in enforce mode."""

    def validate(self) -> None:
        for option, value in (
            ("--min-roc-auc", self.min_roc_auc),
            ("--max-roc-auc-drop", self.max_roc_auc_drop),
            ("--max-fairness-gap", self.max_fairness_gap),
            ("--min-minority-share", self.min_minority_share),
            ("--max-roc-auc", self.max_roc_auc),
        ):
            if not 0 <= value <= 1:
                raise ChurnError(f"{option}: {value} must be between 0 and 1")
        if not -1 <= self.min_pinned_agreement <= 1:
            raise ChurnError(f"--min-pinned-agreement: {self.min_pinned_agreement} must be between -1 and 1")
        for option, count in (
            ("--min-training-rows", self.min_training_rows),
            ("--min-pinned-rows", self.min_pinned_rows),
        ):
            if count < 1:
                raise ChurnError(f"{option}: {count} must be at least 1")


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
