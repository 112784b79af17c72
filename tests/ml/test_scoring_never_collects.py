"""Scoring must stay distributed: the feature table is never pulled to the driver."""

from __future__ import annotations

import pytest
from churn.gate import GateThresholds
from churn.jobs.ingest import run_ingest
from churn.jobs.score import run_score
from churn.jobs.train import TrainSettings, run_train
from churn.jobs.validate import run_validate
from churn.runtime import PREDICTIONS, local_runtime
from pyspark.sql import DataFrame

DRIVER_PULLS = [
    "collect",
    "toPandas",
    "toArrow",
    "toLocalIterator",
    "take",
    "head",
    "first",
    "tail",
    "toJSON",
]


@pytest.fixture(scope="module")
def trained_workdir(spark, telco_sample, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("score-work")
    runtime = local_runtime(workdir)
    run_ingest(runtime, str(telco_sample))
    run_train(runtime, TrainSettings(cv_folds=2))
    # lenient floors: 240 hold-out rows are noisy, and a first champion must pass them
    run_validate(runtime, GateThresholds(min_roc_auc=0.75, max_fairness_gap=0.6))
    return workdir


def test_score_never_pulls_rows_to_the_driver(spark, trained_workdir, monkeypatch):
    pulled: list[str] = []
    for method in DRIVER_PULLS:
        original = getattr(DataFrame, method)

        def spy(self, *args, _name=method, _original=original, **kwargs):
            pulled.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(DataFrame, method, spy)

    runtime = local_runtime(trained_workdir)
    result = run_score(runtime, arrow_batch_rows=500)
    monkeypatch.undo()

    assert pulled == []
    assert result.rows_scored == 1200
    assert runtime.store.read(PREDICTIONS).count() == 1200


def test_scoring_prints_no_mlflow_notice_about_a_deliberate_choice_but_keeps_real_warnings(
    spark, trained_workdir, caplog
):
    import logging

    with caplog.at_level(logging.INFO):
        run_score(local_runtime(trained_workdir), rescore_all=True)
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("mlflow")]
    assert not [m for m in messages if 'env_manager="local"' in m]  # the cluster is the model's environment
    assert not [m for m in messages if m.startswith("Selected backend for flavor")]
    real = logging.LogRecord("mlflow.pyfunc", logging.WARNING, __file__, 1, "Detected one or more mismatches", None,
                             None)  # fmt: skip
    assert all(f.filter(real) for f in logging.getLogger("mlflow.pyfunc").filters)
