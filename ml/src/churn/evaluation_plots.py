"""Evaluation artifacts for a trained model on the hold-out: curves, calibration, confusion matrix and
permutation feature importances (on the model's input columns, so they read in business terms)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # jobs and tests have no display

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from sklearn.calibration import CalibrationDisplay
from sklearn.inspection import permutation_importance
from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay
from sklearn.pipeline import Pipeline


def _save(figure: plt.Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def permutation_importances(
    model: Pipeline, x: pd.DataFrame, y: np.ndarray, *, seed: int, repeats: int = 5
) -> pd.DataFrame:
    result = permutation_importance(model, x, y, scoring="roc_auc", n_repeats=repeats, random_state=seed)
    return (
        pd.DataFrame(
            {
                "feature": x.columns,
                "importance_mean": result.importances_mean,
                "importance_std": result.importances_std,
            }
        )
        .sort_values("importance_mean", ascending=False)
        .reset_index(drop=True)
    )


def write_evaluation_artifacts(
    model: Pipeline,
    x: pd.DataFrame,
    y: np.ndarray,
    probability: np.ndarray,
    threshold: float,
    out_dir: Path,
    *,
    seed: int,
) -> dict[str, Path]:
    """Write the plots and the importance table into `out_dir`; return them by name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}

    figure, axis = plt.subplots(figsize=(5, 5))
    RocCurveDisplay.from_predictions(y, probability, ax=axis, name="hold-out")
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey")
    written["roc_curve"] = _save(figure, out_dir / "roc_curve.png")

    figure, axis = plt.subplots(figsize=(5, 5))
    PrecisionRecallDisplay.from_predictions(y, probability, ax=axis, name="hold-out")
    axis.axhline(y.mean(), linestyle="--", color="grey", label="churn rate")
    written["pr_curve"] = _save(figure, out_dir / "pr_curve.png")

    figure, axis = plt.subplots(figsize=(5, 5))
    CalibrationDisplay.from_predictions(
        y, probability, n_bins=10, strategy="quantile", ax=axis, name="hold-out"
    )
    written["calibration"] = _save(figure, out_dir / "calibration.png")

    figure, axis = plt.subplots(figsize=(4.5, 4))
    ConfusionMatrixDisplay.from_predictions(
        y, (probability >= threshold).astype(int), display_labels=["stays", "churns"], ax=axis, colorbar=False
    )
    axis.set_title(f"threshold {threshold:.3f}")
    written["confusion_matrix"] = _save(figure, out_dir / "confusion_matrix.png")

    importances = permutation_importances(model, x, y, seed=seed)
    importances.to_csv(out_dir / "feature_importance.csv", index=False)
    written["feature_importance_table"] = out_dir / "feature_importance.csv"
    figure, axis = plt.subplots(figsize=(6, 6))
    ordered = importances.iloc[::-1]
    axis.barh(ordered["feature"], ordered["importance_mean"], xerr=ordered["importance_std"], color="#4477aa")
    axis.set_xlabel("drop in hold-out ROC AUC when shuffled")
    written["feature_importance"] = _save(figure, out_dir / "feature_importance.png")
    return written
