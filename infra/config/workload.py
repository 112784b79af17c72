"""A team's workloads: the ML projects that run in its environments.

A **managed** workload is built and run by the platform: its Python project (a path in this repository) becomes
a content-addressed wheel that the workspace stack uploads, and the jobs listed here (or the churn preset's)
run its entry points on the env's policy-governed job clusters. A **bundle** workload is deployed by the team
itself as a Databricks Asset Bundle; the platform creates only what the bundle needs (schema, registered models
with grants, the CI identity). Every workload gets its own Unity Catalog schema in each env's catalog, so two
workloads of one team never overwrite each other's models.
"""

from __future__ import annotations

import posixpath
import re
from collections import Counter
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from infra.config.base import QuartzCron, StrictModel, repeated

WORKLOAD_NAME = r"^[a-z][a-z0-9_]{1,29}$"
# Unity Catalog object names we create: lowercase so the name in the config is the name in the catalog.
UC_NAME = r"^[a-z][a-z0-9_]{0,63}$"
TASK_KEY = r"^[a-z][a-z0-9_]{0,99}$"
# A console script / entry point name as pyproject's [project.scripts] may declare it.
ENTRY_POINT = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
# Schemas the platform itself creates in every env's catalog besides the workloads' own.
PLATFORM_SCHEMAS: frozenset[str] = frozenset({"information_schema"})
CHURN_PRESET = "churn"
# The churn preset's tables, predictions table and serving inference tables live here (and the artifact volume).
CHURN_SCHEMA = "ml"

# Env settings only the churn preset's jobs, endpoint and monitor read (schedules' timezone and paused apply to
# every managed workload's jobs; these three schedules are the preset's).
CHURN_ONLY_ENV_SETTINGS = ("model_gate", "drift", "data_quality", "serving")
CHURN_ONLY_SCHEDULES = ("training", "scoring", "monitoring")

WorkloadName = Annotated[str, Field(pattern=WORKLOAD_NAME)]
UcName = Annotated[str, Field(pattern=UC_NAME)]


class WorkloadTask(StrictModel):
    """One task of a managed workload's job: an entry point of the workload's wheel (a `python_wheel_task`)."""

    key: Annotated[str, Field(pattern=TASK_KEY)]
    """Task key, unique in the job: lowercase letters, digits or '_', starting with a letter."""
    entry_point: Annotated[str, Field(pattern=ENTRY_POINT)]
    """An entry point the workload's pyproject declares in `[project.scripts]`."""
    parameters: list[str] = []  # noqa: RUF012 (pydantic copies defaults)
    """Command-line arguments. The platform appends `--catalog <catalog> --schema <schema_name> --model-name
    <catalog>.<schema_name>.<first model> --experiment-path <experiment>` so the code never hard-codes an env."""
    depends_on: list[Annotated[str, Field(pattern=TASK_KEY)]] = []  # noqa: RUF012
    """Keys of the tasks of this job that must succeed first."""
    timeout_minutes: Annotated[int, Field(ge=1, le=48 * 60)] = 60
    """Per attempt; a timeout is not retried."""
    max_retries: Annotated[int, Field(ge=0, le=5)] = 2
    """Retries of a failed attempt, five minutes apart (0 for tasks whose failure is a verdict)."""


class WorkloadJob(StrictModel):
    """A scheduled (or on-demand) job of a managed workload, run as the env's job service principal."""

    name: Annotated[str, Field(pattern=TASK_KEY)]
    """Job key: the job is named `<stem>-<workload>-<name>` in the workspace."""
    description: str = ""
    """Shown on the job in the workspace."""
    tasks: Annotated[list[WorkloadTask], Field(min_length=1)]
    """The job's tasks; run order comes from each task's `depends_on`."""
    schedule: QuartzCron | None = None
    """Quartz cron expression in the env's `schedules.timezone` (paused where the env pauses schedules); unset:
    the job runs only when started (`platform smoke`, the UI, the API)."""

    @model_validator(mode="after")
    def _task_graph(self) -> WorkloadJob:
        keys = [task.key for task in self.tasks]
        twice = repeated(keys)
        if twice:
            raise ValueError(f"task keys {twice} appear more than once in job {self.name!r}")
        for task in self.tasks:
            unknown = sorted(set(task.depends_on) - set(keys))
            if unknown:
                raise ValueError(f"task {task.key!r} depends on {unknown}, not tasks of job {self.name!r}")
        order = _topological(self.tasks)
        if order is None:
            raise ValueError(f"the tasks of job {self.name!r} depend on each other in a circle")
        return self


def _topological(tasks: list[WorkloadTask]) -> list[str] | None:
    done: list[str] = []
    pending = {task.key: set(task.depends_on) for task in tasks}
    while pending:
        ready = sorted(key for key, needs in pending.items() if needs <= set(done))
        if not ready:
            return None
        done += ready
        for key in ready:
            del pending[key]
    return done


class ManagedWorkload(StrictModel):
    """A Python project in this repository that the platform builds, deploys and schedules."""

    kind: Literal["managed"]
    """`managed`: the platform builds the wheel and defines the jobs."""
    name: WorkloadName
    """2-30 lowercase letters, digits or '_', starting with a letter; unique in the team. Names the
    workload's jobs and experiment."""
    package: Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,199}$")]
    """A path inside this repository, relative to its root: the Python project (a folder with a pyproject.toml)
    whose wheel the jobs run; churn's is `ml`."""
    schema_name: UcName | None = None
    """The workload's Unity Catalog schema in each env's catalog; default: the workload's name (the churn
    preset's: `ml`, the only schema it runs in)."""
    models: Annotated[list[UcName], Field(min_length=1)]
    """Registered models the platform creates in `<catalog>.<schema_name>`, owned by the job principal; the
    first is the one the jobs get as `--model-name`."""
    preset: Literal["churn"] | None = None
    """`churn`: the reference churn jobs (training, scoring, monitoring) with the env's gate, drift, data
    quality, serving and schedule settings; `jobs` must then be empty."""
    jobs: list[WorkloadJob] = []  # noqa: RUF012
    """The workload's own jobs (without a preset: at least one)."""

    @field_validator("package")
    @classmethod
    def _one_spelling(cls, value: str) -> str:
        # `ml/`, `ml/.` and `ml` are one package: one wheel build, one CI scope, one upload.
        return posixpath.normpath(value)

    @property
    def schema(self) -> str:
        """The Unity Catalog schema the workload's tables and models live in (the churn preset's: `ml`)."""
        return self.schema_name or (CHURN_SCHEMA if self.preset == CHURN_PRESET else self.name)

    @property
    def experiment_name(self) -> str:
        """The experiment's name in the team folder: the churn preset's is its model's (as always), any other
        workload's its own name."""
        return self.models[0] if self.preset == CHURN_PRESET else self.name

    @property
    def job_names(self) -> list[str]:
        """Keys of the workload's jobs (the preset's included)."""
        if self.preset == CHURN_PRESET:
            return ["training", "scoring", "monitoring"]
        return [job.name for job in self.jobs]

    def job_name(self, stem: str, job: str) -> str:
        """A job's name in the workspace: the churn preset's `<stem>-<job>` (as always), any other workload's
        `<stem>-<workload>-<job>`, so no two workloads' jobs share a name."""
        return f"{stem}-{job}" if self.preset == CHURN_PRESET else f"{stem}-{self.name}-{job}"

    @model_validator(mode="after")
    def _jobs_or_preset(self) -> ManagedWorkload:
        if self.preset is not None and self.jobs:
            raise ValueError(f"preset {self.preset!r} defines the jobs; remove jobs or the preset")
        if self.preset is None and not self.jobs:
            raise ValueError("a managed workload without a preset needs at least one job")
        _unique("models", self.models)
        _unique("job names", [job.name for job in self.jobs])
        return self


class BundleCi(StrictModel):
    """The CI identity that deploys a bundle workload: GitHub Actions OIDC, federated to the run_as principal."""

    github_repository: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")]
    """`owner/repo` of the team's bundle repository."""
    environment: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")] | None = None
    """GitHub environment the deploy job runs in; unset: the token of any workflow run of the repository."""


class BundleWorkload(StrictModel):
    """A Databricks Asset Bundle the team deploys itself; the platform provides its schema, models and grants."""

    kind: Literal["bundle"]
    """`bundle`: the team deploys it with `databricks bundle deploy` (docs/bundles.md)."""
    name: WorkloadName
    """2-30 lowercase letters, digits or '_', starting with a letter; unique in the team."""
    schema_name: UcName | None = None
    """The workload's Unity Catalog schema in each env's catalog; default: the workload's name."""
    models: Annotated[list[UcName], Field(min_length=1)]
    """Registered models the platform creates, with grants, in `<catalog>.<schema_name>`."""
    ci: BundleCi | None = None
    """The team's CI identity for the bundle: required when the team has staging or prod (those targets deploy as
    the run_as principal, which only the CI signs in as); unset: developers deploy the dev targets as themselves."""

    @property
    def schema(self) -> str:
        """The Unity Catalog schema the workload's tables and models live in."""
        return self.schema_name or self.name

    @model_validator(mode="after")
    def _unique_models(self) -> BundleWorkload:
        _unique("models", self.models)
        return self


Workload = Annotated[ManagedWorkload | BundleWorkload, Field(discriminator="kind")]


def _unique(what: str, values: list[str]) -> None:
    twice = repeated(values)
    if twice:
        raise ValueError(f"{what} {twice} listed more than once")


def churn_workload(model_name: str = "churn") -> dict[str, Any]:
    """The reference workload as config: the churn package in ml/, schema `ml`, today's three jobs."""
    return {
        "kind": "managed",
        "name": "churn",
        "package": "ml",
        "schema_name": "ml",
        "models": [model_name],
        "preset": CHURN_PRESET,
    }


def workloads_problems(workloads: list[ManagedWorkload | BundleWorkload]) -> list[str]:
    """What is wrong across a team's workloads, one line each relative to the team (`workloads[1].name: ...`)."""
    problems = []
    names = Counter(w.name for w in workloads)
    schemas = Counter(w.schema for w in workloads)
    for index, workload in enumerate(workloads):
        where = f"workloads[{index}]"
        if names[workload.name] > 1:
            problems.append(f"{where}.name: {workload.name!r} names more than one workload of the team")
        if schemas[workload.schema] > 1:
            problems.append(
                f"{where}.schema_name: schema {workload.schema!r} is shared with another workload of the team; "
                "each workload needs its own schema so no workload can overwrite another's models"
            )
        if workload.schema in PLATFORM_SCHEMAS:
            problems.append(f"{where}.schema_name: {workload.schema!r} is reserved by Databricks")
        churn_preset = isinstance(workload, ManagedWorkload) and workload.preset == CHURN_PRESET
        if workload.schema == CHURN_SCHEMA and not churn_preset:
            # UnityCatalogScope creates it in every env's catalog (the wheels' artifacts volume): a second
            # schema of that name fails at apply.
            problems.append(
                f"{where}.schema_name: {CHURN_SCHEMA!r} is the platform's own schema in every env's catalog "
                "(wheels' artifacts volume, the churn preset); set schema_name to another name"
            )
        if isinstance(workload, ManagedWorkload) and workload.preset == CHURN_PRESET:
            if workload.schema != CHURN_SCHEMA:
                problems.append(
                    f"{where}.schema_name: the churn preset keeps its tables, predictions and inference tables in "
                    f"schema {CHURN_SCHEMA!r}; remove schema_name or set it to {CHURN_SCHEMA}"
                )
            experiments = [w.name for w in workloads if isinstance(w, ManagedWorkload) and w is not workload]
            if workload.experiment_name in experiments:
                problems.append(
                    f"{where}.models: the churn preset's experiment is named after its first model "
                    f"{workload.experiment_name!r}, which is also another workload's name (its experiment); "
                    "rename one"
                )
        if isinstance(workload, ManagedWorkload) and re.search(r"(^|/)\.\.?(/|$)", workload.package):
            problems.append(
                f"{where}.package: {workload.package!r} leaves the repository; give a path inside it"
            )
    return problems


def churn_only_settings(environments: object) -> list[str]:
    """The churn-preset-only settings a team's raw `environments` spell out, as `environments.<env>.<field>`."""
    found: list[str] = []
    if not isinstance(environments, dict):
        return found
    for env, settings in environments.items():
        if not isinstance(settings, dict):
            continue
        found += [f"environments.{env}.{key}" for key in CHURN_ONLY_ENV_SETTINGS if key in settings]
        schedules = settings.get("schedules")
        if isinstance(schedules, dict):
            found += [
                f"environments.{env}.schedules.{key}" for key in CHURN_ONLY_SCHEDULES if key in schedules
            ]
    return found
