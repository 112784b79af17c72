"""MLflow wiring: where runs and models go (local SQLite or Databricks + Unity Catalog) and the registry
aliases. Aliases only, never stages: a new version is `challenger`; only the validation gate (`promote`)
moves `champion`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from churn import local_store
from churn.errors import ChurnError


class DeliberateChoiceNotices(logging.Filter):
    """Drops MLflow notices about choices this project makes on purpose; every other record passes.

    - `spark_udf(env_manager="local")`: the job cluster (or the local venv) is the model's environment by
      design; the wheel's requirements fit the runtime, and MLflow still warns on real version mismatches.
    """

    DELIBERATE = ('Calling `spark_udf()` with `env_manager="local"` does not recreate',)

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.DELIBERATE)


def quiet_deliberate_choices() -> None:
    """Install the filter once on the MLflow loggers that emit those notices."""
    logger = logging.getLogger("mlflow.pyfunc")
    if not any(isinstance(f, DeliberateChoiceNotices) for f in logger.filters):
        logger.addFilter(DeliberateChoiceNotices())
    # spark_udf logs at INFO which backend serves a python_function model: always the same one here.
    logging.getLogger("mlflow.models.flavor_backend_registry").setLevel(logging.WARNING)


def _quiet_local_store() -> None:
    # Alembic logs its plugins when imported and, with MLflow's store, every schema check of the local SQLite
    # store at INFO (twice per run).
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)


LOCAL_STORE_FILE = "mlflow.db"
CHALLENGER = "challenger"
CHAMPION = "champion"
THRESHOLD_TAG = "decision_threshold"
# Set on every `churn train` run from its start, so a training job that failed before registering counts too.
TRAINING_ATTEMPT_TAG = "churn_training_attempt"


@dataclass(frozen=True)
class TrackingTarget:
    tracking_uri: str
    registry_uri: str
    experiment: str
    artifact_location: str | None = None
    local_dir: Path | None = None  # created on first use, so a run rejected early leaves nothing behind

    @classmethod
    def local(cls, workdir: Path, experiment: str) -> TrackingTarget:
        workdir = Path(workdir).resolve()
        uri = f"sqlite:///{workdir / LOCAL_STORE_FILE}"
        return cls(uri, uri, experiment, (workdir / "mlartifacts").as_uri(), workdir)

    def prepare_local_store(self) -> None:
        """Make MLflow's local store ready now, in a run that will use MLflow: call it while the local JVM starts
        (local_runtime), when Python only waits. Imports the SQLite store's SQLAlchemy layer (most of a second)
        and migrates an empty store if the work directory has none (churn.local_store)."""
        if self.local_dir is None:
            return
        _quiet_local_store()
        import mlflow.store.tracking.sqlalchemy_store  # noqa: F401

        local_store.prepare(self.local_dir / LOCAL_STORE_FILE)

    @classmethod
    def databricks(cls, experiment_path: str) -> TrackingTarget:
        return cls("databricks", "databricks-uc", experiment_path)

    def activate(self) -> str:
        """Point MLflow at this target and return the experiment id (creating the experiment if needed)."""
        if not self.experiment:
            raise ChurnError("--experiment-path: required on Databricks, e.g. /Shared/churn/experiment")
        self.use_registry()
        experiment = mlflow.get_experiment_by_name(self.experiment)
        if experiment is None:
            try:
                experiment_id = mlflow.create_experiment(
                    self.experiment, artifact_location=self.artifact_location
                )
            except MlflowException as exc:
                # Another run on the same work directory created it since we looked: use theirs.
                experiment = mlflow.get_experiment_by_name(self.experiment)
                if exc.error_code != "RESOURCE_ALREADY_EXISTS" or experiment is None:
                    raise
                experiment_id = experiment.experiment_id
        else:
            experiment_id = experiment.experiment_id
        mlflow.set_experiment(experiment_id=experiment_id)
        return experiment_id

    def use_registry(self) -> None:
        """Point MLflow at the tracking server and registry without choosing an experiment (for scoring)."""
        if self.local_dir is not None:
            self.local_dir.mkdir(parents=True, exist_ok=True)
            local_store.install(self.local_dir / LOCAL_STORE_FILE)
        _quiet_local_store()
        quiet_deliberate_choices()
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.registry_uri)


def register(model_uri: str, model_name: str, *, tags: dict[str, str]) -> tuple[ModelVersion, list[str]]:
    """Register a new version and alias it `challenger`."""
    version = mlflow.register_model(model_uri, model_name, tags=tags)
    MlflowClient().set_registered_model_alias(model_name, CHALLENGER, version.version)
    return version, [CHALLENGER]


def promote(model_name: str, version: str) -> None:
    """Give `version` the `champion` alias (the validation gate's call, after the challenger passed)."""
    MlflowClient().set_registered_model_alias(model_name, CHAMPION, version)


def alias_version(model_name: str, alias: str) -> ModelVersion | None:
    try:
        return MlflowClient().get_model_version_by_alias(model_name, alias)
    except MlflowException:
        return None


def champion(model_name: str) -> ModelVersion:
    version = alias_version(model_name, CHAMPION)
    if version is None:
        raise ChurnError(
            f"--model-name: model '{model_name}' has no '{CHAMPION}' version; run `churn train` and `churn validate` first"
        )
    return version
