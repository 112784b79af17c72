"""The logged model's pip requirements are given, not inferred (inference unpickles the model in a fresh Python
process on every training run): the given list must be exactly what MLflow would infer, for either candidate."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from pathlib import Path

import churn.jobs.train as train_module
import mlflow
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


RUNTIMES = sorted((Path(__file__).resolve().parents[2] / "ml" / "runtimes").glob("databricks-*.txt"))


def runtime_versions(listing: Path) -> dict[str, str]:
    rows = (line.split("#")[0].strip() for line in listing.read_text().splitlines())
    return {name.lower(): version for name, _, version in (r.partition("==") for r in rows if "==" in r)}


@pytest.mark.parametrize("listing", RUNTIMES, ids=lambda p: p.stem)
def test_requirements_resolve_on_the_ml_runtime(listing, monkeypatch):
    """The ML runtimes ship MLflow as `mlflow-skinny` (no `mlflow` distribution): training on the cluster must
    still pin every package, MLflow at the version it runs (what MLflow's own inference writes, taking
    mlflow.__version__), the others at the runtime's versions."""
    shipped = runtime_versions(listing)
    assert "mlflow" not in shipped and "mlflow-skinny" in shipped

    def version_on_runtime(name: str) -> str:
        if name.lower() not in shipped:
            raise PackageNotFoundError(name)
        return shipped[name.lower()]

    monkeypatch.setattr(train_module, "installed_version", version_on_runtime)
    monkeypatch.setattr(mlflow, "__version__", shipped["mlflow-skinny"])
    assert model_requirements() == [
        f"mlflow=={shipped['mlflow-skinny']}",
        *(f"{name}=={shipped[name]}" for name in MODEL_PACKAGES if name != "mlflow"),
    ]
