"""The typed platform config: one file describes every team and environment.

Every field carries its default and meaning here; `platform schema` turns these models into the JSON Schema
editors use, and docs/config-reference.md is generated from the same place.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import date
from functools import cached_property
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from infra.config.aws import AwsSettings, cloud_problems, region_problem, with_aws_defaults
from infra.config.cron import quartz_cron_problem
from infra.config.naming import EnvNames, env_names
from infra.config.regions import DATABRICKS_REGIONS

PERMANENT_ENVS: tuple[str, ...] = ("dev", "staging", "prod")
EnvName = Literal["dev", "staging", "prod"]

# Databricks Runtime LTS ML versions the churn wheel is tested against -> spark_version key. 18 LTS ML is the
# umbrella line `18.x` (the `18.0.x` key was the 18.0 Beta, out of support since June 2026).
RUNTIMES: dict[str, str] = {
    "18": "18.x-cpu-ml-scala2.13",
    "17.3": "17.3.x-cpu-ml-scala2.13",
}
DEFAULT_RUNTIME = "18"
# Runtimes people may still write, with what to write instead.
RETIRED_RUNTIMES: dict[str, str] = {
    "18.0": "18.0 was the Databricks Runtime 18 Beta (support ended June 2026); use '18' for 18 LTS ML",
}

# Marks a root-level error whose lines already carry their own field paths.
CROSS_CHECK_MARK = "cross-check:\n"

TEAM_NAME = r"^[a-z][a-z0-9]{1,11}$"
EPHEMERAL_NAME = r"^[a-z][a-z0-9]{1,9}$"


class StrictModel(BaseModel):
    """Base for all config models: unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _check_cron(value: str) -> str:
    problem = quartz_cron_problem(value)
    if problem:
        raise ValueError(f"{value!r} is not a Databricks (Quartz) cron expression: {problem}")
    return value


def _check_region(value: str) -> str:
    if value not in DATABRICKS_REGIONS:
        import difflib

        close = difflib.get_close_matches(value.lower().replace(" ", ""), sorted(DATABRICKS_REGIONS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"{value!r} is not an Azure region with Azure Databricks{hint}")
    return value


def _check_network(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a CIDR network address ({exc})") from None
    if network.version != 4 or not network.is_private:
        raise ValueError(f"{value!r} must be a private IPv4 range (10/8, 172.16/12 or 192.168/16)")
    if not 16 <= network.prefixlen <= 24:
        raise ValueError(f"{value!r} must be between /16 and /24 so each Databricks subnet gets at least /26")
    return value


# Labels of GitHub-hosted runner images: they run outside every customer network.
GITHUB_HOSTED_LABEL = re.compile(r"^(ubuntu|windows|macos)-")
RunnerLabel = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]

QuartzCron = Annotated[str, AfterValidator(_check_cron)]
PrivateNetwork = Annotated[str, AfterValidator(_check_network)]


class StateBackend(StrictModel):
    """Where Terraform state lives. Local by default; one azurerm blob or S3 object per stack when configured."""

    kind: Literal["local", "azurerm", "s3"] = "local"
    """`local`: `terraform.<stack>.tfstate` files beside cdktf.out (the project root). `azurerm`: blob state.
    `s3`: objects in an S3 bucket, locked with a lock file beside each state (use_lockfile, no DynamoDB)."""
    resource_group_name: str | None = None
    """Resource group of the state storage account (azurerm only)."""
    storage_account_name: str | None = None
    """State storage account (azurerm only). Access uses Entra ID, never account keys."""
    container_name: str = "tfstate"
    """Blob container holding state; each stack uses key `<team>/<env>/<component>.tfstate`."""
    bucket: str | None = None
    """S3 bucket holding state (s3 only); each stack uses key `<team>/<env>/<component>.tfstate`."""
    region: str | None = None
    """Region of the S3 state bucket (s3 only)."""

    @model_validator(mode="after")
    def _azurerm_needs_account(self) -> StateBackend:
        if self.kind == "azurerm":
            missing = [f for f in ("resource_group_name", "storage_account_name") if not getattr(self, f)]
            if missing:
                raise ValueError(f"azurerm state backend needs {', '.join(missing)}")
        if self.kind == "s3":
            missing = [f for f in ("bucket", "region") if not getattr(self, f)]
            if missing:
                raise ValueError(f"s3 state backend needs {', '.join(missing)}")
        return self


VIRTUAL_NETWORK_ID = r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/Microsoft\.Network/virtualNetworks/[^/]+$"
RESOURCE_GROUP_ID = r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+$"


class HubNetwork(StrictModel):
    """The hub every private env joins: its VNet (where the self-hosted deploy runner lives) and the
    privatelink DNS zones all private envs share. Unset: each private env has zones of its own, and a runner
    network can resolve only one private env (Azure links a VNet to one zone of a name).

    Set: each env whose lake, vault or front end is private (and each ephemeral env cut from one) peers its VNet
    with the hub in both directions, registers its private endpoints in the hub's zones and links those zones
    to its own VNet, so one runner in the hub reaches every private env, new ones included. The hub's owner
    creates the zones `privatelink.azuredatabricks.net`, `privatelink.dfs.core.windows.net`,
    `privatelink.blob.core.windows.net` and `privatelink.vaultcore.azure.net`, links them to the hub VNet, and
    keeps one `browser_authentication` endpoint per region in the shared zone (Databricks' web-auth workspace):
    envs then create none, because a second one would take over the region's `pl-auth` record and deleting it
    would break sign-in to every private workspace of the region. The deployer needs Network Contributor on the
    hub VNet and Private DNS Zone Contributor on the zones' resource group."""

    virtual_network_id: Annotated[str, Field(pattern=VIRTUAL_NETWORK_ID)]
    """ARM ID of the hub VNet. Its address space must not overlap any env's network."""
    private_dns_zones_resource_group_id: Annotated[str, Field(pattern=RESOURCE_GROUP_ID)]
    """ARM ID of the resource group that holds the shared privatelink zones, in the hub VNet's subscription."""

    @model_validator(mode="after")
    def _one_subscription(self) -> HubNetwork:
        if self.subscription_id != self.private_dns_zones_resource_group_id.split("/")[2].lower():
            raise ValueError(
                "private_dns_zones_resource_group_id must be in the hub VNet's subscription "
                f"({self.subscription_id})"
            )
        return self

    @property
    def subscription_id(self) -> str:
        return self.virtual_network_id.split("/")[2].lower()

    @property
    def resource_group_name(self) -> str:
        return self.virtual_network_id.split("/")[4]

    @property
    def virtual_network_name(self) -> str:
        return self.virtual_network_id.split("/")[8]

    @property
    def private_dns_zones_resource_group_name(self) -> str:
        return self.private_dns_zones_resource_group_id.split("/")[4]

    def private_dns_zone_id(self, zone: str) -> str:
        return (
            f"{self.private_dns_zones_resource_group_id}/providers/Microsoft.Network/privateDnsZones/{zone}"
        )


class PlatformSettings(StrictModel):
    """Settings shared by every team: naming, subscription, runtime, state."""

    prefix: Annotated[str, Field(pattern=r"^[a-z][a-z0-9]{1,5}$")]
    """2-6 lowercase letters or digits, starting with a letter: the naming prefix of every resource."""
    subscription_id: UUID | None = None
    """Azure subscription to deploy into. Unset: taken from ARM_SUBSCRIPTION_ID / Azure CLI at deploy time."""
    tenant_id: UUID | None = None
    """Entra ID tenant. Unset: taken from ARM_TENANT_ID / Azure CLI at deploy time."""
    deployer_principal: Annotated[str, Field(min_length=1)]
    """Application ID of the service principal (or user name) that runs `cdktf deploy`. Authoritative
    permission resources always include it, so a deploy never locks out its own deployer."""
    metastore_id: UUID | None = None
    """Unity Catalog metastore to assign to each workspace. Unset: the region's automatically assigned
    metastore is used (the default for Azure accounts created since late 2023)."""
    account_id: UUID | None = None
    """Databricks account ID (account console). Set: each env grants the deployer the Service Principal User
    role on its job service principal, which jobs with `run_as` need. Unset: an account admin must grant that
    role, or creating the jobs fails."""
    azure_databricks_sp_object_id: UUID | None = None
    """Object ID, in this tenant, of the `AzureDatabricks` enterprise application (application ID
    2ff814a6-3304-4ab8-85cb-cd0e6f879c1d; `az ad sp show --id 2ff814a6-3304-4ab8-85cb-cd0e6f879c1d --query id`).
    Set: each env's Key Vault grants it `Key Vault Secrets User` and each workspace gets a Key Vault-backed secret
    scope, which reads secrets through that grant. Unset: no grant and no secret scope (validate warns)."""
    personal_access_tokens: bool = False
    """Allow Databricks personal access tokens in the workspaces (some partner integrations need them). Off:
    nobody can create or use a PAT; people use Entra ID and automation uses service principals."""
    runtime: Literal["18", "17.3"] = DEFAULT_RUNTIME
    """Databricks Runtime LTS ML line for jobs and clusters: 18 (18 LTS ML, key `18.x-cpu-ml-scala2.13`, Spark
    4.1, MLflow 3.8) or 17.3 (17.3 LTS ML, `17.3.x-cpu-ml-scala2.13`)."""
    budget_start: date | None = None
    """Optional first month (a first day of a month) before which no budget starts. Unset: each env's budget
    starts on the first of the month of the deploy that creates it, the only past date Azure accepts; a date
    before that month is moved up to it. The start is kept after creation."""
    log_retention_days: Annotated[int, Field(ge=30, le=730)] = 30
    """Log Analytics retention in days (30-730)."""
    state_backend: StateBackend = StateBackend()
    """Terraform state location."""
    hub_network: HubNetwork | None = None
    """The hub VNet and shared privatelink DNS zones private envs join (Azure). Unset: private envs are
    islands with zones of their own, each reachable only from a runner network linked to its zones."""

    @field_validator("runtime", mode="before")
    @classmethod
    def _known_runtime(cls, value: Any) -> Any:
        if isinstance(value, int | float):  # YAML reads `runtime: 17.3` as a number
            value = str(value)
        if isinstance(value, str) and value in RETIRED_RUNTIMES:
            raise ValueError(RETIRED_RUNTIMES[value])
        return value

    @field_validator("budget_start")
    @classmethod
    def _first_of_month(cls, value: date | None) -> date | None:
        if value is not None and value.day != 1:
            raise ValueError(f"{value.isoformat()} must be the first day of a month")
        return value

    @property
    def spark_version(self) -> str:
        return RUNTIMES[self.runtime]


class ComputeSettings(StrictModel):
    """Cluster sizes for one environment; the cluster policy enforces them."""

    node_type: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")] = "Standard_D4ds_v5"
    """The driver and worker node type: an Azure VM size such as Standard_D4ds_v5, or on an AWS team an EC2
    instance type such as m6id.xlarge (the default there)."""
    min_workers: Annotated[int, Field(ge=0, le=100)] = 1
    """Autoscale lower bound."""
    max_workers: Annotated[int, Field(ge=1, le=100)] = 2
    """Autoscale upper bound; the policy caps every cluster at this."""
    spot: bool = False
    """Use spot VMs for workers (falls back to on-demand); the driver stays on-demand."""
    autotermination_minutes: Annotated[int, Field(ge=10, le=240)] = 30
    """Idle minutes before an all-purpose cluster stops."""

    @model_validator(mode="after")
    def _bounds(self) -> ComputeSettings:
        if self.min_workers > self.max_workers:
            raise ValueError(
                f"min_workers ({self.min_workers}) must not exceed max_workers ({self.max_workers})"
            )
        return self


class Schedules(StrictModel):
    """Quartz cron schedules of the model jobs (Databricks syntax: sec min hour day month weekday)."""

    training: QuartzCron = "0 0 3 ? * MON"
    """Weekly retraining (train -> validate)."""
    scoring: QuartzCron = "0 0 5 * * ?"
    """Daily batch scoring."""
    monitoring: QuartzCron = "0 0 7 * * ?"
    """Daily drift and decay monitoring."""
    timezone: str = "UTC"
    """IANA time zone of the schedules."""
    paused: bool = False
    """Create schedules paused (the default for dev)."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in available_timezones():
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. 'Europe/Amsterdam')")
        return value


class ModelGate(StrictModel):
    """The validation gate between a new `challenger` and the `champion` (`churn validate` in the training job).
    Defaults match the churn package's (`churn.thresholds.GateThresholds`)."""

    mode: Literal["enforce", "dry-run"] = "enforce"
    """enforce: only a passing challenger becomes champion and a failing one fails the job; dry-run: report
    only, never replace the champion (the default for dev)."""
    min_roc_auc: Annotated[float, Field(ge=0, le=1)] = 0.80
    """Absolute floor of the challenger's hold-out ROC AUC."""
    max_roc_auc_drop: Annotated[float, Field(ge=0, le=1)] = 0.01
    """Largest ROC AUC the challenger may lose against the champion, both scored on the same hold-out."""
    max_fairness_gap: Annotated[float, Field(ge=0, le=1)] = 0.40
    """Largest equalized odds difference (worst TPR or FPR gap between groups) over gender, senior citizen,
    partner and dependents."""


class DataQuality(StrictModel):
    """How much of a raw batch may break the data contract before the training job's `churn ingest` refuses the
    whole batch (exit 2, nothing written, nothing trained). Default matches the churn package's contract."""

    max_quarantined_share: Annotated[float, Field(ge=0, le=1)] = 0.1
    """Largest share of a batch's rows that may be quarantined (rows that break the contract). Above it the feed
    is taken as broken rather than dirty."""


class DriftMonitoring(StrictModel):
    """Thresholds of the monitoring job (`churn monitor`). Defaults match `churn.thresholds.DriftThresholds`."""

    psi_threshold: Annotated[float, Field(gt=0, le=10)] = 0.2
    """PSI at or above which a feature or the prediction counts as shifted (0.1 watch, 0.2 act)."""
    alpha: Annotated[float, Field(gt=0, lt=1)] = 0.01
    """Family-wise significance of the per-feature KS / chi-squared tests, Bonferroni-split over features."""
    max_roc_auc_decay: Annotated[float, Field(ge=0, lt=1)] = 0.05
    """Largest tolerated ROC AUC drop on labelled recent rows against the champion's hold-out ROC AUC."""
    fail_on_drift: bool = True
    """Fail the monitoring run when drift is detected, so the team gets the failure mail."""


class Budget(StrictModel):
    """Monthly cost budget of the environment's resource group."""

    amount: Annotated[float, Field(gt=0)]
    """Monthly amount in the subscription's billing currency."""
    alert_thresholds: list[Annotated[int, Field(gt=0, le=1000)]] = [80, 100]
    """Percentages of the amount at which the notification addresses are mailed."""

    @field_validator("alert_thresholds")
    @classmethod
    def _distinct(cls, value: list[int]) -> list[int]:
        if not value or len(set(value)) != len(value) or len(value) > 5:
            raise ValueError("must hold 1-5 distinct percentages")
        return sorted(value)


KEY_VAULT_ID = r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/Microsoft\.KeyVault/vaults/[a-zA-Z0-9-]{3,24}$"
# Versioned: azurerm 4.55.0 parses the workspace's CMK key IDs with ParseNestedItemID, which requires a version.
VERSIONED_KEY_ID = r"^https://[a-zA-Z0-9-]{3,24}\.vault\.azure\.net/keys/[a-zA-Z0-9-]{1,127}/[0-9a-fA-F]{32}$"


class CustomerManagedKey(StrictModel):
    """The key that encrypts the env's lake, the workspace's managed services and managed disks, and its DBFS
    root. Unset fields: the stack creates an HSM-backed RSA key in the env's Key Vault with a yearly automatic
    rotation. Set both fields to use an existing key instead (its vault needs soft delete, purge protection and
    the trusted-services bypass)."""

    existing_key_id: Annotated[str, Field(pattern=VERSIONED_KEY_ID)] | None = None
    """Versioned ID of an existing key, `https://<vault>.vault.azure.net/keys/<name>/<version>`."""
    existing_key_vault_id: Annotated[str, Field(pattern=KEY_VAULT_ID)] | None = None
    """ARM ID of that key's vault: the role assignments the encrypting identities need are scoped to the key."""

    @model_validator(mode="after")
    def _both_or_neither(self) -> CustomerManagedKey:
        if (self.existing_key_id is None) != (self.existing_key_vault_id is None):
            raise ValueError("existing_key_id and existing_key_vault_id are set together or not at all")
        if self.existing_key_id and self.existing_key_vault_id:
            vault_in_url = self.existing_key_id.removeprefix("https://").split(".", 1)[0]
            if vault_in_url.lower() != self.existing_key_vault_id.rsplit("/", 1)[1].lower():
                raise ValueError(
                    f"existing_key_id is in vault {vault_in_url!r}, not in existing_key_vault_id's vault"
                )
        return self

    @property
    def existing_key_name(self) -> str | None:
        return self.existing_key_id.split("/")[4] if self.existing_key_id else None


class EnvironmentConfig(StrictModel):
    """One team environment. Unset fields take the defaults of the environment kind (see ENV_DEFAULTS)."""

    network: PrivateNetwork
    """Private IPv4 address space of the environment's VNet (/16 to /24); must not overlap any other."""
    budget: Budget
    """Monthly budget with alerts."""
    compute: ComputeSettings = ComputeSettings()
    """Cluster sizes and the policy bounds."""
    schedules: Schedules = Schedules()
    """Job schedules."""
    model_gate: ModelGate = ModelGate()
    """Who becomes champion: the validation gate's thresholds and mode (dry-run by default in dev)."""
    drift: DriftMonitoring = DriftMonitoring()
    """Drift and decay thresholds of the monitoring job."""
    data_quality: DataQuality = DataQuality()
    """When a raw batch is refused as a broken feed instead of landed with its bad rows quarantined."""
    interactive_cluster: bool = False
    """Create an all-purpose cluster for interactive work, dedicated to the first owner group. Off by default:
    a group-assigned cluster needs kind CLASSIC_PREVIEW, which needs the workspace's compute preview enabled
    (validate warns)."""
    instance_pool: bool = False
    """Keep warm idle instances so job clusters start faster (default on in staging and prod)."""
    prevent_destroy: bool = False
    """Protect data resources (storage, key vault, catalog) from `terraform destroy` (default on in prod)."""
    public_network_access: bool = True
    """Allow the workspace UI/API from the internet (front-end). Back-end is always private (no public IP)."""
    require_approval: bool = False
    """Deploys of this env need a manual approval in CI (default on in prod)."""
    network_isolation: Literal["service_endpoints", "private"] = "service_endpoints"
    """How the lake and the Key Vault are reached. `service_endpoints`: their public endpoints, narrowed by
    deny-by-default firewalls (the Databricks subnets, the access connector, trusted Azure services).
    `private` (default in prod): private endpoints (lake dfs and blob, vault) in the env's private-endpoint
    subnet with privatelink DNS zones linked to the VNet, public network access off on both. The workspace stack
    and a stack-created key are then deployed from a runner that reaches the VNet."""
    customer_managed_key: CustomerManagedKey | None = None
    """Encrypt with a customer-managed key (default on in prod; `null` turns it off). Needs
    `platform.azure_databricks_sp_object_id` (managed services are wrapped by the AzureDatabricks app); a
    stack-created key also needs `network_isolation: private`. Not applied to ephemeral envs, whose vaults
    have no purge protection."""

    deploy_runner: Annotated[list[RunnerLabel], Field(validate_default=True)] = []
    """GitHub Actions runner labels (`runs-on`) of the CI jobs that deploy, smoke-test and destroy this env and
    the ephemeral envs cut from it, e.g. `[self-hosted, churn-prod]`: a runner that reaches the workspace over
    private link (docs/operations.md). Empty: a GitHub-hosted `ubuntu-latest` runner. Required when
    public_network_access is false or network_isolation is private, since a GitHub-hosted runner cannot reach
    a private front end, lake or vault."""

    @field_validator("deploy_runner")
    @classmethod
    def _private_env_needs_a_runner(cls, value: list[str], info: ValidationInfo) -> list[str]:
        private = [
            what
            for what, is_private in (
                ("public_network_access is false", not info.data.get("public_network_access", True)),
                ("network_isolation is private", info.data.get("network_isolation") == "private"),
            )
            if is_private
        ]
        if not private:
            return value
        if not value:
            raise ValueError(
                f"required when {' and '.join(private)}: a GitHub-hosted runner cannot reach a private workspace, "
                "lake or vault; name the labels of a runner inside its network (docs/operations.md)"
            )
        hosted = [label for label in value if GITHUB_HOSTED_LABEL.match(label)]
        if hosted:
            raise ValueError(
                f"{hosted[0]!r} is a GitHub-hosted runner label, which cannot reach this env ({' and '.join(private)}); "
                "name a runner inside its network"
            )
        return value

    @property
    def reachable_only_from_its_network(self) -> bool:
        """A private front end, or a lake and vault without public endpoints: deploys need a runner inside."""
        return not self.public_network_access or self.network_isolation == "private"


# Defaults per environment kind, applied under whatever the config sets.
ENV_DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {
        "compute": {"spot": True, "min_workers": 1, "max_workers": 2},
        "schedules": {"paused": True},
        "model_gate": {"mode": "dry-run"},
    },
    "staging": {"instance_pool": True, "compute": {"spot": True, "min_workers": 1, "max_workers": 4}},
    "prod": {
        "instance_pool": True,
        "prevent_destroy": True,
        "require_approval": True,
        "network_isolation": "private",
        "customer_managed_key": {},
        "compute": {"spot": False, "min_workers": 2, "max_workers": 8},
    },
}


# Per-kind defaults that only an Azure team's stacks implement.
AZURE_ONLY_ENV_DEFAULTS = ("network_isolation", "customer_managed_key")


def _merge(defaults: dict[str, Any], values: Any) -> Any:
    if not isinstance(values, dict):
        return values
    merged = dict(defaults)
    for key, value in values.items():
        merged[key] = _merge(defaults[key], value) if isinstance(defaults.get(key), dict) else value
    return merged


class EphemeralTemplate(StrictModel):
    """How short-lived test environments of a team are cut: smallest sizes, carved from a network pool."""

    network_pool: PrivateNetwork
    """Address range split into /24 slots, one per ephemeral environment."""
    budget: Budget = Budget(amount=100)
    """Budget of each ephemeral environment."""
    compute: ComputeSettings = ComputeSettings(
        min_workers=0, max_workers=1, spot=True, autotermination_minutes=15
    )
    """Smallest sizes; job clusters of ephemeral envs use these."""
    default_ttl_hours: Annotated[int, Field(ge=1, le=168)] = 8
    """Time to live when `platform env up` gets no --ttl."""


class TeamConfig(StrictModel):
    """A team and its environments."""

    name: Annotated[str, Field(pattern=TEAM_NAME)]
    """2-12 lowercase letters or digits, starting with a letter: the team identifier used in every name."""
    cost_center: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{1,31}$")]
    """2-32 letters, digits or '-': the finance cost center, tagged on every resource."""
    owner_groups: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    """Databricks account groups (synced from Entra ID) that own the team's catalog, jobs and models."""
    reader_groups: list[Annotated[str, Field(min_length=1)]] = []
    """Groups that may read the team's data and models."""
    cloud: Literal["azure", "aws"] = "azure"
    """Cloud of the team's workspaces: `azure` (Azure Databricks) or `aws` (Databricks on AWS, see docs/aws.md)."""
    region: str = "westeurope"
    """Region of all the team's resources: an Azure region with Azure Databricks, or on an AWS team an AWS region
    with Databricks (e.g. eu-west-1)."""
    aws: AwsSettings | None = None
    """AWS account and network settings; required with `cloud: aws`, refused otherwise."""
    notification_emails: Annotated[list[EmailStr], Field(min_length=1)]
    """Addresses that get job failure and budget alerts."""
    model_name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")] = "churn"
    """1-64 lowercase letters, digits or '_', starting with a letter: the registered model's name inside the
    env's catalog (`<catalog>.ml.<model_name>`)."""
    environments: dict[EnvName, EnvironmentConfig]
    """dev, staging and prod; each is optional but at least one is required."""
    ephemeral: EphemeralTemplate | None = None
    """Template for short-lived test environments; none allowed when unset."""

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
        return value if cloud == "aws" else _check_region(value)

    @field_validator("environments", mode="before")
    @classmethod
    def _apply_env_defaults(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, dict):
            return value
        defaults = ENV_DEFAULTS
        if info.data.get("cloud") == "aws":  # private endpoints and Key Vault keys are Azure constructs
            defaults = {
                env: {k: v for k, v in kind.items() if k not in AZURE_ONLY_ENV_DEFAULTS}
                for env, kind in ENV_DEFAULTS.items()
            }
        return {env: _merge(defaults.get(env, {}), settings) for env, settings in value.items()}

    @field_validator("environments")
    @classmethod
    def _at_least_one(cls, value: dict[str, EnvironmentConfig]) -> dict[str, EnvironmentConfig]:
        if not value:
            raise ValueError("needs at least one of dev, staging, prod")
        return value

    @model_validator(mode="after")
    def _groups_distinct(self) -> TeamConfig:
        both = sorted(set(self.owner_groups) & set(self.reader_groups))
        if both:
            raise ValueError(f"groups {both} are both owners and readers; list each group once")
        return self


class PlatformConfig(StrictModel):
    """The whole platform: shared settings and the teams."""

    platform: PlatformSettings
    """Settings shared by every team."""
    teams: Annotated[list[TeamConfig], Field(min_length=1)]
    """The teams, each with its environments."""

    @model_validator(mode="after")
    def _cross_checks(self) -> PlatformConfig:
        problems = [
            *self._duplicate_teams(),
            *self._overlapping_networks(),
            *self._name_problems(),
            *self._customer_managed_key_problems(),
            *cloud_problems(self),
        ]
        if problems:
            # One line per problem, each starting with its own field path (see infra.config.loader).
            raise ValueError(CROSS_CHECK_MARK + "\n".join(problems))
        return self

    def _duplicate_teams(self) -> list[str]:
        first: dict[str, int] = {}
        problems = []
        for index, team in enumerate(self.teams):
            if team.name in first:
                problems.append(
                    f"teams[{index}].name: {team.name!r} is already used by teams[{first[team.name]}]"
                )
            first.setdefault(team.name, index)
        return problems

    def _overlapping_networks(self) -> list[str]:
        ranges: list[tuple[str, ipaddress.IPv4Network]] = []
        for index, team in enumerate(self.teams):
            for env, settings in team.environments.items():
                ranges.append(
                    (f"teams[{index}].environments.{env}.network", ipaddress.IPv4Network(settings.network))
                )
            if team.ephemeral:
                path = f"teams[{index}].ephemeral.network_pool"
                ranges.append((path, ipaddress.IPv4Network(team.ephemeral.network_pool)))
        return [
            f"{b}: {b_net} overlaps {a_net} of {a}"
            for i, (a, a_net) in enumerate(ranges)
            for b, b_net in ranges[i + 1 :]
            if a_net.overlaps(b_net)
        ]

    def _name_problems(self) -> list[str]:
        return [
            f"teams[{index}].environments.{env}: {problem}"
            for index, team in enumerate(self.teams)
            for env in team.environments
            for problem in env_names(prefix=self.platform.prefix, team=team.name, env=env).problems()
        ]

    def _customer_managed_key_problems(self) -> list[str]:
        problems = []
        for index, team in enumerate(self.teams):
            for env, settings in team.environments.items():
                key = settings.customer_managed_key
                if key is None:
                    continue
                path = f"teams[{index}].environments.{env}.customer_managed_key"
                if self.platform.azure_databricks_sp_object_id is None:
                    problems.append(
                        f"{path}: needs platform.azure_databricks_sp_object_id (the AzureDatabricks app wraps the "
                        "managed services key)"
                    )
                if key.existing_key_id is None and settings.network_isolation != "private":
                    problems.append(
                        f"{path}: a key created by the stack needs network_isolation: private (the vault's "
                        "firewall denies the deploying runner; or set existing_key_id)"
                    )
        return problems

    def team(self, name: str) -> TeamConfig:
        for team in self.teams:
            if team.name == name:
                return team
        raise KeyError(name)

    @cached_property
    def team_envs(self) -> list[TeamEnv]:
        """Every permanent team-environment, in config order."""
        return [TeamEnv.permanent(self, team, env) for team in self.teams for env in team.environments]


class TeamEnv(BaseModel):
    """One resolved team-environment: what the two stacks of an env are built from."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    platform: PlatformSettings
    team: TeamConfig
    env: str
    """dev, staging, prod, or an ephemeral env's name."""
    kind: Literal["dev", "staging", "prod", "ephemeral"]
    settings: EnvironmentConfig
    owner: str | None = None
    expires_at: str | None = None
    """ISO-8601 UTC expiry of an ephemeral environment."""
    base_env: str | None = None
    """The permanent env an ephemeral env was cut from."""

    @classmethod
    def permanent(cls, config: PlatformConfig, team: TeamConfig, env: str) -> TeamEnv:
        return cls(platform=config.platform, team=team, env=env, kind=env, settings=team.environments[env])

    @property
    def key(self) -> str:
        return f"{self.team.name}/{self.env}"

    @property
    def is_ephemeral(self) -> bool:
        return self.kind == "ephemeral"

    @cached_property
    def names(self) -> EnvNames:
        return env_names(prefix=self.platform.prefix, team=self.team.name, env=self.env)

    @property
    def tags(self) -> dict[str, str]:
        """Tags on every taggable Azure resource and every Databricks cluster of this env."""
        tags = {
            "team": self.team.name,
            "env": self.env,
            "cost-center": self.team.cost_center,
            "managed-by": "cdktf-platform",
        }
        if self.is_ephemeral:
            tags |= {"ephemeral": "true", "expires-at": self.expires_at or "", "owner": self.owner or ""}
            tags["base-env"] = self.base_env or ""
        return tags

    @property
    def customer_managed_key(self) -> CustomerManagedKey | None:
        """The env's customer-managed key settings. Never for ephemeral envs: Azure requires purge protection on
        a CMK's vault, and ephemeral vaults have none so that they can be purged on destroy."""
        return None if self.is_ephemeral else self.settings.customer_managed_key

    @property
    def stacks(self) -> dict[str, str]:
        """Component -> stack name of this env's stacks, in deploy order."""
        names = self.names
        if self.team.cloud == "aws":
            return {
                "platform": names.platform_stack,
                "account": names.account_stack,
                "workspace": names.workspace_stack,
            }
        return {"platform": names.platform_stack, "workspace": names.workspace_stack}

    @property
    def host_subnet_cidr(self) -> str:
        return str(self._subnets[0])

    @property
    def container_subnet_cidr(self) -> str:
        return str(self._subnets[1])

    @cached_property
    def _subnets(self) -> list[ipaddress.IPv4Network]:
        # Quarter the VNet: host and container subnets take the first two quarters, the rest stays free
        # for private endpoints.
        network = ipaddress.IPv4Network(self.settings.network)
        return list(network.subnets(prefixlen_diff=2))[:2]


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema of platform.yaml, for editors (yaml-language-server) and docs."""
    schema = PlatformConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Databricks platform config (platform.yaml)"
    return schema
