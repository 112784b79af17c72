"""The logged model's pip requirements are given, not inferred (inference unpickles the model in a fresh Python
process on every training run): the given list must be exactly what MLflow would infer, for either candidate."""

from __future__ import annotations

import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from churn.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from churn.jobs.train import MODEL_PACKAGES, model_requirements
from churn.modeling import CANDIDATES
from mlflow.utils.requirements_utils import _infer_requirements
from packaging.requirements import Requirement


def feature_frame(rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({name: rng.integers(0, 5, rows) for name in NUMERIC_FEATURES})
    for name in CATEGORICAL_FEATURES:
        frame[name] = rng.choice(["Yes", "No"], rows)
    return frame


@pytest.mark.parametrize("candidate", sorted(CANDIDATES))
def test_the_given_requirements_are_what_mlflow_would_infer(candidate, tmp_path):
    x = feature_frame()
    model = CANDIDATES[candidate](seed=0).fit(x, np.arange(len(x)) % 2)
    path = tmp_path / "model"
    mlflow.sklearn.save_model(model, str(path), pip_requirements=model_requirements())
    inferred = {Requirement(r).name for r in _infer_requirements(str(path), "sklearn", raise_on_error=True)}
    # MLflow adds itself, and cloudpickle for its default serialisation, to whatever it infers.
    assert inferred | {"mlflow", "cloudpickle"} == set(MODEL_PACKAGES)
    written = (path / "requirements.txt").read_text().split()
    assert written == model_requirements()
