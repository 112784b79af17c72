"""Data drift, prediction drift and performance decay between a reference and a current batch.

Pure pandas/scipy: the monitor job reads the two frames and hands them here.

Per feature, two views that must agree before a feature counts as drifted:
- PSI (population stability index) says whether the shift is large enough to matter. Bins: numeric columns
  with more than `max_categories` distinct values get quantile bins cut on the reference (`numeric_bins`,
  default 10, so each holds ~10 % of the reference); every other column is binned by value, and values the
  reference never had share one `__unseen__` bucket. Missing values are a bucket of their own in both kinds.
- A test says whether the shift is real rather than sampling noise: two-sample Kolmogorov-Smirnov on numeric
  columns, chi-squared on the bucket counts otherwise. Many features are tested at once, so the p-values are
  compared with a Bonferroni-corrected level (alpha / number of features).
Requiring both keeps the false-alarm rate honest on a resample of the reference (tests measure it) while a
moved distribution, a new category mix or a broken column (all missing, or suddenly constant) is caught.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency, ks_2samp
from sklearn.metrics import roc_auc_score

from churn.errors import ChurnError
from churn.thresholds import DriftThresholds

MISSING = "__missing__"
UNSEEN = "__unseen__"
PREDICTION = "churn_probability"
LABEL = "churn"
# Small-sample handling of the chi-squared test (see _chi_squared).
MIN_EXPECTED_COUNT = 5
MONTE_CARLO_DRAWS = 20_000
MONTE_CARLO_CELLS = 1_000_000  # per chunk of draws: bounds the memory of the test (8 MB per array)
# Shares below this are floored in PSI, so a bucket empty on one side gives a large but finite term.
PSI_EPSILON = 1e-4


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    kind: str  # "numeric" (quantile bins + KS) or "categorical" (value buckets + chi-squared)
    psi: float
    test: str
    statistic: float
    p_value: float
    missing_share_reference: float
    missing_share_current: float
    drifted: bool
    reason: str


@dataclass(frozen=True)
class PerformanceDecay:
    roc_auc_reference: float
    roc_auc_current: float
    labelled_rows: int
    decayed: bool


@dataclass(frozen=True)
class DriftReport:
    thresholds: DriftThresholds
    reference_rows: int
    current_rows: int
    features: list[FeatureDrift]
    prediction: FeatureDrift | None = None
    performance: PerformanceDecay | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def drifted_features(self) -> list[str]:
        return [f.name for f in self.features if f.drifted]

    @property
    def drift_detected(self) -> bool:
        return bool(
            self.drifted_features
            or (self.prediction is not None and self.prediction.drifted)
            or (self.performance is not None and self.performance.decayed)
        )

    def as_dict(self) -> dict[str, object]:
        return _json_safe(
            {
                "drift_detected": self.drift_detected,
                "drifted_features": self.drifted_features,
                "reference_rows": self.reference_rows,
                "current_rows": self.current_rows,
                "thresholds": asdict(self.thresholds),
                "bonferroni_alpha": self.thresholds.alpha / max(len(self.features), 1),
                "features": {f.name: asdict(f) for f in self.features},
                "prediction": asdict(self.prediction) if self.prediction else None,
                "performance": asdict(self.performance) if self.performance else None,
                "notes": self.notes,
            }
        )


def _json_safe(value):
    """NaN and infinities are not JSON: report them as null."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def psi(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Population stability index of two count vectors over the same buckets."""
    ref = np.maximum(reference_counts / max(reference_counts.sum(), 1), PSI_EPSILON)
    cur = np.maximum(current_counts / max(current_counts.sum(), 1), PSI_EPSILON)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def _is_binned_by_value(reference: pd.Series, thresholds: DriftThresholds) -> bool:
    return not pd.api.types.is_numeric_dtype(reference) or reference.nunique() <= thresholds.max_categories


def numeric_bucket_counts(
    reference: pd.Series, current: pd.Series, bins: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts per quantile bin of the reference (+ a missing bucket), and the inner edges used."""
    ref_values = reference.dropna().to_numpy(dtype=float)
    edges = np.unique(np.quantile(ref_values, np.linspace(0, 1, bins + 1)[1:-1])) if len(ref_values) else []

    def counts(series: pd.Series) -> np.ndarray:
        values = series.dropna().to_numpy(dtype=float)
        # Bin i holds (edge[i-1], edge[i]]; values up to the first edge fall in bin 0, above the last in the top.
        binned = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
        return np.append(binned, series.isna().sum())

    return counts(reference), counts(current), np.asarray(edges)


def categorical_bucket_counts(reference: pd.Series, current: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Counts per reference value, one bucket for values the reference never had, one for missing."""
    known = sorted(reference.dropna().astype(str).unique())

    def counts(series: pd.Series) -> np.ndarray:
        text = series.dropna().astype(str)
        per_value = text.value_counts()
        seen = [int(per_value.get(value, 0)) for value in known]
        return np.array([*seen, int((~text.isin(known)).sum()), int(series.isna().sum())])

    return counts(reference), counts(current)


def _pearson(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Pearson's statistic of the two-row table [reference; current] per row of `current` (vectorised)."""
    columns = reference + current
    total_reference, total_current = reference.sum(), current.sum(axis=-1, keepdims=True)
    share = columns / (total_reference + total_current)
    expected_reference, expected_current = total_reference * share, total_current * share
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(columns > 0, (reference - expected_reference) ** 2 / expected_reference
                         + (current - expected_current) ** 2 / expected_current, 0.0)  # fmt: skip
    return terms.sum(axis=-1)


def _chi_squared(reference_counts: np.ndarray, current_counts: np.ndarray) -> tuple[float, float]:
    """Chi-squared test of the two bucket mixes; exact enough for any batch size.

    The asymptotic p-value needs an expected count of MIN_EXPECTED_COUNT in every bucket of the current batch
    (Cochran's rule); one new customer with a blank TotalCharges (11 of 7,043 in Telco) would otherwise score
    p ~ 1e-119. Below that, the p-value is the share of MONTE_CARLO_DRAWS batches of the same size drawn from
    the reference mix whose statistic is at least as large: a batch the reference itself produces is not drift.
    """
    table = np.vstack([reference_counts, current_counts])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0  # both batches in one bucket: identical mixes
    result = chi2_contingency(table, correction=False)
    if result.expected_freq[1].min() >= MIN_EXPECTED_COUNT:
        return float(result.statistic), float(result.pvalue)
    reference, current = table[0].astype(float), table[1].astype(float)
    observed = float(_pearson(reference, current[None, :])[0])
    rng = np.random.default_rng(0)  # seeded: the same batches give the same report
    # Drawn in chunks of about MONTE_CARLO_CELLS table cells: all draws at once on a wide categorical column
    # (2,000 values) held several 20,000 x 2,000 float arrays, over a gigabyte, on a job's driver.
    chunk = max(1, MONTE_CARLO_CELLS // len(reference))
    at_least, remaining = 0, MONTE_CARLO_DRAWS
    while remaining:
        size = min(chunk, remaining)
        drawn = rng.multinomial(int(current.sum()), reference / reference.sum(), size=size)
        at_least += int((_pearson(reference, drawn.astype(float)) >= observed - 1e-9).sum())
        remaining -= size
    return observed, (at_least + 1) / (MONTE_CARLO_DRAWS + 1)


def feature_drift(
    name: str, reference: pd.Series, current: pd.Series, thresholds: DriftThresholds, *, level: float
) -> FeatureDrift:
    """Drift of one column. `level` is the (already corrected) significance level of its test."""
    missing_ref = float(reference.isna().mean()) if len(reference) else 0.0
    missing_cur = float(current.isna().mean()) if len(current) else 0.0
    if _is_binned_by_value(reference, thresholds):
        kind, test = "categorical", "chi_squared"
        ref_counts, cur_counts = categorical_bucket_counts(reference, current)
        statistic, p_value = _chi_squared(ref_counts, cur_counts)
    else:
        kind = "numeric"
        ref_counts, cur_counts, _ = numeric_bucket_counts(reference, current, thresholds.numeric_bins)
        ref_values, cur_values = reference.dropna(), current.dropna()
        if len(ref_values) and len(cur_values):
            test = "kolmogorov_smirnov"
            result = ks_2samp(ref_values.to_numpy(float), cur_values.to_numpy(float))
            statistic, p_value = float(result.statistic), float(result.pvalue)
        else:
            # No values left to compare (the column went missing): test the missing bucket instead.
            test = "chi_squared"
            statistic, p_value = _chi_squared(ref_counts, cur_counts)
    value = psi(ref_counts, cur_counts)
    drifted = value >= thresholds.psi and p_value < level
    reason = (
        f"PSI {value:.3f} >= {thresholds.psi} and {test} p {p_value:.2g} < {level:.2g}"
        if drifted
        else f"PSI {value:.3f}, {test} p {p_value:.2g}"
    )
    return FeatureDrift(
        name=name,
        kind=kind,
        psi=value,
        test=test,
        statistic=statistic,
        p_value=p_value,
        missing_share_reference=missing_ref,
        missing_share_current=missing_cur,
        drifted=bool(drifted),
        reason=reason,
    )


def performance_decay(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    thresholds: DriftThresholds,
    reference_roc_auc: float | None,
) -> PerformanceDecay | None:
    """ROC AUC on labelled current rows against the reference's (given, or computed from its labels)."""
    if LABEL not in current.columns or PREDICTION not in current.columns:
        return None
    labelled = current.dropna(subset=[LABEL, PREDICTION])
    if labelled[LABEL].nunique() < 2:
        return None
    if reference_roc_auc is None:
        if LABEL not in reference.columns or PREDICTION not in reference.columns:
            return None
        ref = reference.dropna(subset=[LABEL, PREDICTION])
        if ref[LABEL].nunique() < 2:
            return None
        reference_roc_auc = float(roc_auc_score(ref[LABEL].astype(int), ref[PREDICTION]))
    current_auc = float(roc_auc_score(labelled[LABEL].astype(int), labelled[PREDICTION]))
    return PerformanceDecay(
        roc_auc_reference=reference_roc_auc,
        roc_auc_current=current_auc,
        labelled_rows=len(labelled),
        decayed=reference_roc_auc - current_auc > thresholds.max_roc_auc_decay,
    )


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: list[str],
    thresholds: DriftThresholds | None = None,
    *,
    reference_roc_auc: float | None = None,
) -> DriftReport:
    """Compare `current` with `reference` on `features`, the prediction column and, if labelled, ROC AUC."""
    thresholds = thresholds or DriftThresholds()
    thresholds.validate()
    for side, frame in (("--reference", reference), ("--current", current)):
        missing = [c for c in features if c not in frame.columns]
        if missing:
            raise ChurnError(f"{side}: missing feature columns {', '.join(missing)}")
        if frame.empty:
            raise ChurnError(f"{side}: has no rows")
    level = thresholds.alpha / len(features)
    per_feature = [feature_drift(c, reference[c], current[c], thresholds, level=level) for c in features]
    notes = []
    prediction = None
    if PREDICTION in reference.columns and PREDICTION in current.columns:
        # One extra test at the uncorrected level: the prediction is the quantity that matters most.
        prediction = feature_drift(
            PREDICTION, reference[PREDICTION], current[PREDICTION], thresholds, level=thresholds.alpha
        )
    else:
        notes.append(f"no prediction drift: '{PREDICTION}' is not in both batches")
    performance = performance_decay(reference, current, thresholds, reference_roc_auc)
    if performance is None:
        notes.append("no performance decay: the current batch has no labelled, scored rows of both classes")
    return DriftReport(
        thresholds=thresholds,
        reference_rows=len(reference),
        current_rows=len(current),
        features=per_feature,
        prediction=prediction,
        performance=performance,
        notes=notes,
    )
