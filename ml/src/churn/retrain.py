"""Whether confirmed drift should retrain the model now, and the task value that tells the monitoring job.

The monitoring job runs `churn monitor --retrain-cooldown-days N`, then a condition task reads the task value
`retrain` and, when it is "true", runs the training job (infra/constructs/databricks/model_jobs.py). The guard
against retrain loops: no retrain while the newest training attempt is younger than the cooldown, where an attempt
is a registered version (any version, whatever its aliases) or a `churn train` run in the experiment, finished or
not. A retrain whose challenger fails the gate still registers a version, and a training job that crashes before
registering still leaves its run (tagged from its start), so drift that training cannot fix triggers one retrain
per cooldown, not one per monitoring run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from churn.errors import ChurnError

RETRAIN_TASK_VALUE = "retrain"
# Set by Databricks on every cluster: where task values exist at all.
RUNTIME_ENV_VAR = "DATABRICKS_RUNTIME_VERSION"


@dataclass(frozen=True)
class RetrainDecision:
    retrain: bool
    reason: str

    @property
    def task_value(self) -> str:
        return "true" if self.retrain else "false"


def decide_retrain(
    *, drift_detected: bool, last_trained_at: datetime | None, now: datetime, cooldown_days: int
) -> RetrainDecision:
    if cooldown_days < 1:
        raise ChurnError(f"--retrain-cooldown-days: {cooldown_days} must be at least 1")
    if not drift_detected:
        return RetrainDecision(False, "no drift")
    if last_trained_at is not None and now - last_trained_at < timedelta(days=cooldown_days):
        return RetrainDecision(
            False,
            f"drift, but the model was last trained (a version registered or a train run started) "
            f"{last_trained_at:%Y-%m-%d %H:%M} UTC, within the {cooldown_days}-day cooldown",
        )
    return RetrainDecision(True, "drift confirmed and no training within the cooldown")


def last_registered(model_name: str) -> datetime | None:
    """When the newest version of the model was registered, whatever its aliases (None: no version yet).

    Every version counts, not only the `challenger` and `champion` ones: a retrain whose alias was moved back by
    hand (or removed) still registered a version, and counting only aliased versions would retrain again on the
    next run (the loop the cooldown exists to stop)."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client, stamps, token = MlflowClient(), [], None
    while True:  # the Unity Catalog registry pages its answers
        try:
            page = client.search_model_versions(f"name = '{model_name}'", page_token=token)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        stamps += [v.creation_timestamp for v in page if v.creation_timestamp is not None]
        token = page.token
        if not token:
            break
    return datetime.fromtimestamp(max(stamps) / 1000, tz=UTC) if stamps else None


def last_training_attempt(experiment: str) -> datetime | None:
    """When the newest `churn train` run in the experiment started, whether it registered a version, failed or
    is still running (None: no such run, or no experiment yet)."""
    import mlflow
    from mlflow.tracking import MlflowClient

    from churn.tracking import TRAINING_ATTEMPT_TAG

    found = mlflow.get_experiment_by_name(experiment) if experiment else None
    if found is None:
        return None
    runs = MlflowClient().search_runs(
        [found.experiment_id],
        filter_string=f"tags.{TRAINING_ATTEMPT_TAG} = 'true'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return datetime.fromtimestamp(runs[0].info.start_time / 1000, tz=UTC) if runs else None


def record_request(decision: RetrainDecision) -> None:
    """Record a decision to retrain as a run in the active experiment, tagged like a training attempt, before
    the task value is set: a training job that fails before its own run starts (the cluster does not come up,
    the wheel does not install, the catalog refuses it) still starts the cooldown, instead of being run again
    by every monitoring run."""
    if not decision.retrain:
        return
    import mlflow

    from churn.tracking import TRAINING_ATTEMPT_TAG

    with mlflow.start_run(run_name="retrain-requested", tags={TRAINING_ATTEMPT_TAG: "true"}):
        mlflow.set_tag("churn_retrain_reason", decision.reason)


def last_trained(model_name: str, experiment: str) -> datetime | None:
    """The newest of: the newest registered version, the newest training run (what the cooldown counts from)."""
    stamps = [t for t in (last_registered(model_name), last_training_attempt(experiment)) if t is not None]
    return max(stamps) if stamps else None


def publish(decision: RetrainDecision, set_task_value: Callable[[str, str], None] | None = None) -> bool:
    """Set the `retrain` task value on Databricks; locally there are no task values (returns False)."""
    if set_task_value is None:
        if not os.environ.get(RUNTIME_ENV_VAR):
            return False
        try:
            from databricks.sdk.runtime import dbutils
        except ImportError as exc:  # on a cluster this is a broken runtime, not a verdict
            raise ChurnError(
                "--retrain-cooldown-days: dbutils is not available to set the task value"
            ) from exc

        def set_task_value(key: str, value: str) -> None:
            dbutils.jobs.taskValues.set(key=key, value=value)

    set_task_value(RETRAIN_TASK_VALUE, decision.task_value)
    return True
