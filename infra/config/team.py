"""A team: its identity, groups, cloud and region, workloads, environments and ephemeral template."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import EmailStr, Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from infra.config.aws import AwsSettings, private_settings_refused, region_problem, with_aws_defaults
from infra.config.base import RELATIVE_MARK, TEAM_NAME, EnvName, StrictModel, repeated
from infra.config.environment import (
    AWS_ENV_DEFAULTS,
    AZURE_ONLY_ENV_DEFAULTS,
    ENV_DEFAULTS,
    EnvironmentConfig,
    EphemeralTemplate,
    merge_defaults,
)
from infra.config.regions import DATABRICKS_REGIONS
from infra.config.workload import (
    BundleWorkload,
    ManagedWorkload,
    Workload,
    churn_only_settings,
    churn_workload,
    workloads_problems,
)

LEGACY_MODEL_NAME = r"^[a-z][a-z0-9_]{0,63}$"
MODEL_NAME_DEPRECATED = (
    "model_name is deprecated: it stands for one managed churn workload with that model; write it as "
    "workloads: [{kind: managed, name: churn, package: ml, schema_name: ml, models: [<name>], preset: churn}]"
)


def check_region(value: str) -> str:
    if value not in DATABRICKS_REGIONS:
        import difflib

        close = difflib.get_close_matches(value.lower().replace(" ", ""), sorted(DATABRICKS_REGIONS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"{value!r} is not an Azure region with Azure Databricks{hint}")
    return value


class TeamConfig(StrictModel):
    """A team and its environments."""

    name: Annotated[str, Field(pattern=TEAM_NAME)]
    """2-12 lowercase letters or digits, starting with a letter: the team identifier used in every name."""
    cost_center: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{1,31}$")]
    """2-32 letters, digits or '-': the finance cost center, tagged on every resource."""
    owner_groups: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    """Databricks account groups (synced from Entra ID) that own the team's catalog, jobs and models."""
    reader_groups: list[Annotated[str, Field(min_length=1)]] = []  # noqa: RUF012 (pydantic copies defaults)
    """Groups that may read the team's data and models."""
    cloud: Literal["azure", "aws"] = "azure"
    """Cloud of the team's workspaces: `azure` (Azure Databricks) or `aws` (Databricks on AWS, see docs/aws.md)."""
    region: str = "westeurope"
    """Region of all the team's resources: an Azure region with Azure Databricks, or on an AWS team an AWS region
    with Databricks (e.g. eu-west-1)."""
    aws: AwsSettings | None = None
    """AWS account and network settings; required with `cloud: aws`, refused otherwise."""
    notification_emails: Annotated[list[EmailStr], Field(min_length=1)]
    """Addresses that get job failure and budget alerts (AWS teams: at most 10, what an AWS budget alert mails)."""
    workloads: list[Workload] = Field(default_factory=lambda: [ManagedWorkload(**churn_workload())])
    """The team's ML projects: `managed` (the platform builds the wheel and runs the jobs) or `bundle` (the team
    deploys its own Databricks Asset Bundle). Default: the churn reference workload (schema `ml`, model
    `churn`). The old `model_name: X` still reads as that workload with model X (deprecated)."""
    environments: dict[EnvName, EnvironmentConfig]
    """dev, staging and prod; each is optional but at least one is required."""
    ephemeral: EphemeralTemplate | None = None
    """Template for short-lived test environments; none allowed when unset."""

    _legacy_model_name: bool = PrivateAttr(default=False)
    _churn_only_set: list[str] = PrivateAttr(default_factory=list)

    @model_validator(mode="wrap")
    @classmethod
    def _legacy_model_name_field(cls, value: Any, handler: Any) -> TeamConfig:
        legacy = isinstance(value, dict) and "model_name" in value
        if legacy:
            value = dict(value)
            model_name = value.pop("model_name")
            if "workloads" in value:
                raise ValueError(
                    RELATIVE_MARK + "model_name: set together with workloads; move the model into the "
                    "churn workload's models and remove model_name"
                )
            if not isinstance(model_name, str) or not re.match(LEGACY_MODEL_NAME, model_name):
                raise ValueError(
                    RELATIVE_MARK
                    + f"model_name: {model_name!r} is invalid: 1-64 lowercase letters, digits or "
                    "'_', starting with a letter"
                )
            value["workloads"] = [churn_workload(model_name)]
        team = handler(value)
        team._legacy_model_name = legacy
        team._churn_only_set = (
            churn_only_settings(value.get("environments")) if isinstance(value, dict) else []
        )
        return team

    @property
    def unused_churn_settings(self) -> list[str]:
        """Env settings written in the config that only the churn preset reads, while the team has none (so
        they deploy nothing): `environments.<env>.<field>`, for validate's warnings."""
        return [] if any(w.preset == "churn" for w in self.managed_workloads) else list(self._churn_only_set)

    @property
    def model_name_deprecated(self) -> bool:
        """The config still says `model_name` (read as the churn workload): validate warns."""
        return self._legacy_model_name

    @property
    def managed_workloads(self) -> list[ManagedWorkload]:
        """The workloads the platform builds and schedules, in config order."""
        return [w for w in self.workloads if isinstance(w, ManagedWorkload)]

    @property
    def bundle_workloads(self) -> list[BundleWorkload]:
        """The workloads the team deploys as its own bundles, in config order."""
        return [w for w in self.workloads if isinstance(w, BundleWorkload)]

    def workload(self, name: str) -> ManagedWorkload | BundleWorkload | None:
        """The team's workload of that name."""
        return next((w for w in self.workloads if w.name == name), None)

    @property
    def model_name(self) -> str:
        """The churn reference workload's model (its first): what the churn-only features (serving, the
        predictions monitor, smoke without --workload) use."""
        churn = next((w for w in self.managed_workloads if w.preset == "churn"), None)
        return churn.models[0] if churn else ""

    @model_validator(mode="before")
    @classmethod
    def _apply_cloud_defaults(cls, value: Any) -> Any:
        return with_aws_defaults(value)

    @field_validator("region")
    @classmethod
    def _region_of_cloud(cls, value: str, info: ValidationInfo) -> str:
        cloud = info.data.get("cloud", "azure")
        problem = region_problem(cloud, value)
        if problem:
            raise ValueError(problem)
        return value if cloud == "aws" else check_region(value)

    @field_validator("environments", mode="before")
    @classmethod
    def _apply_env_defaults(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, dict):
            return value
        defaults = ENV_DEFAULTS
        if info.data.get("cloud") == "aws":  # private endpoints and Key Vault keys are Azure constructs
            if refused := private_settings_refused(value):
                raise ValueError(RELATIVE_MARK + "\n".join(refused))
            defaults = {
                env: {k: v for k, v in kind.items() if k not in AZURE_ONLY_ENV_DEFAULTS}
                | AWS_ENV_DEFAULTS.get(env, {})
                for env, kind in ENV_DEFAULTS.items()
            }
        return {env: merge_defaults(defaults.get(env, {}), settings) for env, settings in value.items()}

    @field_validator("environments")
    @classmethod
    def _at_least_one(cls, value: dict[str, EnvironmentConfig]) -> dict[str, EnvironmentConfig]:
        if not value:
            raise ValueError("needs at least one of dev, staging, prod")
        return value

    @field_validator("owner_groups", "reader_groups")
    @classmethod
    def _each_group_once(cls, value: list[str]) -> list[str]:
        twice = repeated(value)
        if twice:
            # A repeat is a slip that grants fold silently (databricks v1.99.0 catalog/resource_grants.go keys
            # configured grants by principal): refuse it where it is written.
            raise ValueError(
                f"{', '.join(repr(g) for g in twice)} listed more than once; list each group once"
            )
        return value

    @model_validator(mode="after")
    def _groups_distinct(self) -> TeamConfig:
        both = sorted(set(self.owner_groups) & set(self.reader_groups))
        if both:
            raise ValueError(f"groups {both} are both owners and readers; list each group once")
        return self

    @model_validator(mode="after")
    def _workloads_apart(self) -> TeamConfig:
        problems = workloads_problems(self.workloads)
        if problems:
            # Lines relative to the team: workloads_problems names `workloads[i].field`.
            raise ValueError(RELATIVE_MARK + "\n".join(problems))
        return self
