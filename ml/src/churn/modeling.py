"""scikit-learn side: candidate pipelines, seeded stratified cross-validation, threshold choice, hold-out
metrics. Pipelines use explicit column lists and stock transformers only, so MLflow's skops serialisation
accepts them (a column selector object or a lambda would be an "untrusted type")."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from churn.features import CATEGORICAL_FEATURES, FEATURE_COLUMNS, LABEL, NUMERIC_FEATURES


def logistic_regression(seed: int) -> Pipeline:
    """L2-regularised logistic regression on scaled numerics and one-hot categoricals."""
    preprocess = ColumnTransformer(
        [
            ("numeric", StandardScaler(), NUMERIC_FEATURES),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL_FEATURES),
        ]
    )
    model = LogisticRegression(C=0.1, max_iter=2000, random_state=seed)
    return Pipeline([("preprocess", preprocess), ("model", model)])


def gradient_boosting(seed: int) -> Pipeline:
    """Shallow, slow-learning histogram gradient boosting with native categorical splits."""
    preprocess = ColumnTransformer(
        [
            (
                "categorical",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1
                ),
                CATEGORICAL_FEATURES,
            ),
            ("numeric", "passthrough", NUMERIC_FEATURES),
        ]
    )
    model = HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=300,
        max_leaf_nodes=4,
        min_samples_leaf=50,
        l2_regularization=1.0,
        categorical_features=list(range(len(CATEGORICAL_FEATURES))),
        random_state=seed,
    )
    return Pipeline([("preprocess", preprocess), ("model", model)])


CANDIDATES = {"logistic_regression": logistic_regression, "gradient_boosting": gradient_boosting}


@dataclass(frozen=True)
class CrossValidation:
    name: str
    fold_roc_auc: list[float]
    out_of_fold: np.ndarray  # churn probability of every training row, predicted by a model that never saw it

    @property
    def mean(self) -> float:
        return float(np.mean(self.fold_roc_auc))

    @property
    def std(self) -> float:
        return float(np.std(self.fold_roc_auc))


@dataclass(frozen=True)
class Split:
    x_train: pd.DataFrame
    y_train: np.ndarray
    x_holdout: pd.DataFrame
    y_holdout: np.ndarray
    holdout: pd.DataFrame  # the hold-out rows with every column (key, sensitive attributes) for reports


def stratified_split(frame: pd.DataFrame, *, holdout_fraction: float, seed: int) -> Split:
    """Seeded stratified split; the same frame (in the same row order), fraction and seed give the same split."""
    y = frame[LABEL].to_numpy(dtype=int)
    train, holdout = train_test_split(frame, test_size=holdout_fraction, stratify=y, random_state=seed)
    train, holdout = train.reset_index(drop=True), holdout.reset_index(drop=True)
    return Split(
        train[FEATURE_COLUMNS],
        train[LABEL].to_numpy(dtype=int),
        holdout[FEATURE_COLUMNS],
        holdout[LABEL].to_numpy(dtype=int),
        holdout,
    )


def cross_validate(name: str, pipeline: Pipeline, x: pd.DataFrame, y: np.ndarray, *, folds: int, seed: int):
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    out_of_fold = np.zeros(len(y), dtype=float)
    scores: list[float] = []
    for train_idx, test_idx in splitter.split(x, y):
        fitted = clone(pipeline).fit(x.iloc[train_idx], y[train_idx])
        proba = fitted.predict_proba(x.iloc[test_idx])[:, 1]
        out_of_fold[test_idx] = proba
        scores.append(float(roc_auc_score(y[test_idx], proba)))
    return CrossValidation(name=name, fold_roc_auc=scores, out_of_fold=out_of_fold)


def f1_optimal_threshold(y: np.ndarray, probability: np.ndarray) -> float:
    """The probability cut that maximises F1 on out-of-fold predictions (never on the hold-out)."""
    precision, recall, thresholds = precision_recall_curve(y, probability)
    f1 = np.divide(
        2 * precision * recall, precision + recall, out=np.zeros_like(precision), where=precision + recall > 0
    )
    best = int(np.argmax(f1[:-1]))  # the last point has no threshold
    return float(thresholds[best])


def holdout_metrics(y: np.ndarray, probability: np.ndarray, threshold: float) -> dict[str, float]:
    predicted = (probability >= threshold).astype(int)
    return {
        "roc_auc": float(roc_auc_score(y, probability)),
        "pr_auc": float(average_precision_score(y, probability)),
        "f1": float(f1_score(y, predicted, zero_division=0)),
        "precision": float(precision_score(y, predicted, zero_division=0)),
        "recall": float(recall_score(y, predicted, zero_division=0)),
        "accuracy": float(accuracy_score(y, predicted)),
        "brier": float(brier_score_loss(y, probability)),
        "log_loss": float(log_loss(y, probability, labels=[0, 1])),
    }
