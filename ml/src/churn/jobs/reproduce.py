"""Reproduction job: re-train from what a training run recorded (data versions and content hash, seed,
settings) and compare the metrics and hold-out predictions with the recorded ones, exactly."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from churn.errors import ChurnError
from churn.features import KEY
from churn.jobs import Report, no_report
from churn.jobs.train import HOLDOUT_PREDICTIONS, fit_and_evaluate, load_training_frame
from churn.jobs.validate import RecordedRun
from churn.lineage import code_and_environment
from churn.runtime import Runtime


@dataclass(frozen=True)
class ReproduceResult:
    run_id: str
    data_matches: bool
    metric_differences: dict[
        str, tuple[float, float]
    ]  # name -> (recorded, reproduced), only those that differ
    predictions_compared: int
    predictions_max_abs_difference: float | None
    environment_differences: dict[str, tuple[str, str]] = field(default_factory=dict)  # informational
    problems: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "matches": self.matches,
            "problems": self.problems,
            "data_matches": self.data_matches,
            "metric_differences": {
                k: {"recorded": a, "reproduced": b} for k, (a, b) in self.metric_differences.items()
            },
            "predictions_compared": self.predictions_compared,
            "predictions_max_abs_difference": self.predictions_max_abs_difference,
            "environment_differences": {
                k: {"recorded": a, "now": b} for k, (a, b) in self.environment_differences.items()
            },
        }


def _recorded_predictions(client: MlflowClient, run_id: str) -> pd.DataFrame | None:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = client.download_artifacts(run_id, f"evaluation/{HOLDOUT_PREDICTIONS}", tmp)
        except (MlflowException, OSError):
            return None
        return pd.read_csv(Path(path), float_precision="round_trip")


def run_reproduce(runtime: Runtime, run_id: str, *, report: Report = no_report) -> ReproduceResult:
    runtime.tracking.use_registry()
    client = MlflowClient()
    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        raise ChurnError(f"RUN_ID: no run '{run_id}' in {runtime.tracking.tracking_uri}") from exc
    recorded = RecordedRun.of(run_id)
    report(f"loading features/labels at versions {recorded.versions.features}/{recorded.versions.labels}")
    frame, lineage = load_training_frame(runtime, recorded.versions)
    environment = {
        name: (run.data.tags.get(name, "unrecorded"), now)
        for name, now in code_and_environment(runtime.spark.version).items()
        if run.data.tags.get(name) != now
    }
    if lineage["data_content_sha256"] != recorded.content_sha256:
        return ReproduceResult(run_id, False, {}, 0, None, environment,
                               ["the data at the recorded versions no longer has the recorded content hash"])  # fmt: skip

    fitted = fit_and_evaluate(frame, recorded.settings, report)
    report("comparing metrics and hold-out predictions")
    problems = []
    differences = {
        name: (run.data.metrics.get(name, float("nan")), value)
        for name, value in fitted.metrics.items()
        if run.data.metrics.get(name) != value
    }
    if differences:
        problems.append(f"metrics differ: {', '.join(sorted(differences))}")
    if run.data.params.get("chosen_model") != fitted.chosen_model:
        problems.append(
            f"chosen model {fitted.chosen_model} != recorded {run.data.params.get('chosen_model')}"
        )

    before = _recorded_predictions(client, run_id)
    after = fitted.holdout_predictions()
    compared, max_difference = 0, None
    if before is None:
        problems.append(f"run {run_id} has no evaluation/{HOLDOUT_PREDICTIONS} to compare with")
    elif before[KEY].astype(str).tolist() != after[KEY].astype(str).tolist():
        problems.append("the hold-out holds different customers")
    else:
        compared = len(after)
        gap = np.abs(before["churn_probability"].to_numpy() - after["churn_probability"].to_numpy())
        max_difference = float(gap.max()) if compared else 0.0
        if max_difference != 0.0:
            problems.append(f"hold-out predictions differ (max |difference| {max_difference:.3g})")
    return ReproduceResult(run_id, True, differences, compared, max_difference, environment, problems)
