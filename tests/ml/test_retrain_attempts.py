"""A training job that fails before it registers a version still counts toward the retrain cooldown: its run is
recorded from the start, so drift that keeps crashing the training job does not retrain it on every monitoring
run (the loop the cooldown exists to stop)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from churn.errors import ChurnError
from churn.jobs.ingest import run_ingest
from churn.jobs.train import TrainSettings, run_train
from churn.retrain import decide_retrain, last_registered, last_trained
from churn.runtime import DEFAULT_LOCAL_EXPERIMENT, local_runtime


def test_a_training_run_that_failed_before_registering_starts_the_cooldown(
    spark, telco_raw, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # MLflow's SQL store makes its default ./mlruns on start
    workdir = tmp_path / "work"
    tiny = tmp_path / "tiny.csv"
    # 12 customers, 2 churners: too few for 5-fold CV, so training fails before it registers anything.
    by_label = telco_raw.groupby("Churn")
    rows = pd.concat([by_label.get_group("No").head(10), by_label.get_group("Yes").head(2)])
    rows.to_csv(tiny, index=False)
    runtime = local_runtime(workdir)
    run_ingest(runtime, str(tiny))
    started = datetime.now(UTC) - timedelta(seconds=1)

    with pytest.raises(ChurnError, match="training data"):
        run_train(runtime, TrainSettings(cv_folds=5))

    assert last_registered(runtime.model_name) is None  # nothing was registered
    attempted = last_trained(runtime.model_name, DEFAULT_LOCAL_EXPERIMENT)
    assert attempted is not None and attempted >= started
    decision = decide_retrain(
        drift_detected=True, last_trained_at=attempted, now=datetime.now(UTC), cooldown_days=7
    )
    assert not decision.retrain and "cooldown" in decision.reason


def test_a_retrain_request_starts_the_cooldown_even_if_the_training_job_never_starts_its_run(
    tmp_path, monkeypatch
):
    """The monitoring job asks for a retrain; the training job then fails before `churn train` opens its run
    (the cluster does not start, the wheel does not install). The next monitoring run must not ask again: the
    request itself is recorded, tagged like a training attempt."""
    monkeypatch.chdir(tmp_path)
    from churn.retrain import record_request
    from churn.tracking import TrackingTarget

    tracking = TrackingTarget.local(tmp_path / "work", DEFAULT_LOCAL_EXPERIMENT)
    tracking.activate()
    first = decide_retrain(
        drift_detected=True,
        last_trained_at=last_trained("churn", DEFAULT_LOCAL_EXPERIMENT),
        now=datetime.now(UTC),
        cooldown_days=7,
    )
    assert first.retrain
    record_request(first)
    # ... the training job fails without a run; the next monitoring run, an hour later:
    again = decide_retrain(
        drift_detected=True,
        last_trained_at=last_trained("churn", DEFAULT_LOCAL_EXPERIMENT),
        now=datetime.now(UTC) + timedelta(hours=1),
        cooldown_days=7,
    )
    assert not again.retrain and "cooldown" in again.reason
