"""Group fairness of churn predictions with fairlearn: per-group rates and the two standard gaps.

Pure functions on arrays: training logs the result for the hold-out, the validation gate compares models with
it. The attributes (`churn.features.SENSITIVE_ATTRIBUTES`) come from silver next to the labels.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # jobs and tests have no display

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from matplotlib import pyplot as plt
from sklearn.metrics import roc_auc_score


def _group_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    # A group holding one class only has no ROC AUC; report NaN rather than fail the whole frame.
    return float(roc_auc_score(y_true, y_score)) if len(np.unique(y_true)) == 2 else float("nan")


@dataclass(frozen=True)
class AttributeFairness:
    attribute: str
    by_group: pd.DataFrame  # one row per group: count, selection_rate, tpr, fpr, roc_auc
    demographic_parity_difference: float
    equalized_odds_difference: float

    def as_dict(self) -> dict[str, object]:
        groups = self.by_group.reset_index().rename(columns={self.by_group.index.name: "group"})
        return {
            "demographic_parity_difference": self.demographic_parity_difference,
            "equalized_odds_difference": self.equalized_odds_difference,
            "groups": [
                {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
                for row in groups.astype({"group": str}).to_dict(orient="records")
            ],
        }


@dataclass(frozen=True)
class FairnessReport:
    attributes: dict[str, AttributeFairness]

    @property
    def max_equalized_odds_difference(self) -> float:
        return max(a.equalized_odds_difference for a in self.attributes.values())

    @property
    def max_demographic_parity_difference(self) -> float:
        return max(a.demographic_parity_difference for a in self.attributes.values())

    def metrics(self, prefix: str = "fairness") -> dict[str, float]:
        """Flat metrics for MLflow: the two gaps per attribute and the worst over all attributes."""
        flat: dict[str, float] = {}
        for name, result in self.attributes.items():
            flat[f"{prefix}_{name}_demographic_parity_difference"] = result.demographic_parity_difference
            flat[f"{prefix}_{name}_equalized_odds_difference"] = result.equalized_odds_difference
        flat[f"{prefix}_max_demographic_parity_difference"] = self.max_demographic_parity_difference
        flat[f"{prefix}_max_equalized_odds_difference"] = self.max_equalized_odds_difference
        return flat

    def as_dict(self) -> dict[str, object]:
        return {name: result.as_dict() for name, result in self.attributes.items()}


def attribute_fairness(
    attribute: str, y_true: np.ndarray, probability: np.ndarray, threshold: float, groups: pd.Series
) -> AttributeFairness:
    y_true = np.asarray(y_true, dtype=int)
    predicted = (np.asarray(probability) >= threshold).astype(int)
    groups = pd.Series(np.asarray(groups), name=attribute).astype(str)
    with warnings.catch_warnings():
        # fairlearn warns when a group lacks one class; the NaN in that cell says the same.
        warnings.simplefilter("ignore")
        rates = MetricFrame(
            metrics={
                "count": count,
                "selection_rate": selection_rate,
                "tpr": true_positive_rate,
                "fpr": false_positive_rate,
            },
            y_true=y_true,
            y_pred=predicted,
            sensitive_features=groups,
        ).by_group
        auc = MetricFrame(
            metrics={"roc_auc": _group_auc}, y_true=y_true, y_pred=probability, sensitive_features=groups
        ).by_group
    return AttributeFairness(
        attribute=attribute,
        by_group=rates.join(auc).astype(float),
        demographic_parity_difference=float(
            demographic_parity_difference(y_true, predicted, sensitive_features=groups)
        ),
        equalized_odds_difference=float(
            equalized_odds_difference(y_true, predicted, sensitive_features=groups)
        ),
    )


def fairness_report(
    y_true: np.ndarray, probability: np.ndarray, threshold: float, sensitive: pd.DataFrame
) -> FairnessReport:
    """Per-attribute fairness of thresholded predictions; `sensitive` holds one column per attribute."""
    return FairnessReport(
        {
            name: attribute_fairness(name, y_true, probability, threshold, sensitive[name])
            for name in sensitive.columns
        }
    )


def plot_fairness(report: FairnessReport, path: Path, *, title: str) -> Path:
    """Selection rate, TPR and FPR per group, one panel per attribute."""
    names = list(report.attributes)
    figure, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.4), sharey=True, squeeze=False)
    for axis, name in zip(axes[0], names, strict=True):
        result = report.attributes[name]
        result.by_group[["selection_rate", "tpr", "fpr"]].plot.bar(ax=axis, rot=0, legend=False, width=0.8)
        axis.set_title(f"{name}\nEOD {result.equalized_odds_difference:.3f}", fontsize=9)
        axis.set_xlabel("")
        axis.set_ylim(0, 1)
    axes[0][0].legend(["selection rate", "TPR", "FPR"], fontsize=8, loc="upper left")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
