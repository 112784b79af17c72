"""One environment's settings (sizes, schedules, gate, network, keys), the per-kind defaults, and the
ephemeral template."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from pydantic import Field, ValidationInfo, field_validator, model_validator

from infra.config.audit import EnvAudit
from infra.config.base import GITHUB_HOSTED_LABEL, PrivateNetwork, QuartzCron, RunnerLabel, StrictModel
from infra.config.egress import Egress
from infra.config.hardening import PROD_HARDENING, Hardening
from infra.config.serverless import Serverless


class ComputeSettings(StrictModel):
    """Cluster sizes for one environment; the cluster policy enforces them."""

    node_type: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")] = "Standard_D4ds_v5"
    """The driver and worker node type: an Azure VM size such as Standard_D4ds_v5, or on an AWS team an EC2
    instance type with local disks such as m6id.xlarge (the default there; EBS-only families such as m5 or r6i are
    refused: the stacks attach no EBS volume); the other cloud's types and malformed names are refused,
    a well-formed type missing from the catalogue of types Databricks supports (infra/config/node_types.json, a
    partial snapshot with its source) is a warning."""
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


@cache
def known_timezones() -> frozenset[str]:
    """The IANA zones, listed once per process: listing walks the tz database (tens of ms), once per env it was
    most of `platform validate` of a large config."""
    return frozenset(available_timezones())


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
        if value not in known_timezones():
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
    """Fail the monitoring run when drift is detected, so the team gets the failure mail. With
    `retrain_cooldown_days` set, only the scoring job's monitor fails; the monitoring job retrains instead."""
    retrain_cooldown_days: Annotated[int, Field(ge=1, le=90)] | None = 7
    """Confirmed drift in the monitoring job runs the training job, unless training was attempted within this many
    days: a registered model version or a training run, failed ones included, so a crashing training job cannot
    loop (the guard against retrain loops, `churn.retrain`). `null`: the monitoring job never retrains."""


class Serving(StrictModel):
    """The env's model serving endpoint for the champion (`<prefix>-<team>-<env>-champion`). Terraform creates it
    without a served model, so a first deploy never needs a registered version; the training job's validate task
    puts the champion on it (docs/workspace-stack.md, "Serving")."""

    enabled: bool = True
    """Create the endpoint and let the validate task serve the champion on it."""
    workload_size: Literal["Small", "Medium", "Large"] = "Small"
    """Provisioned concurrency range of the served champion: Small 4, Medium 8-16, Large 16-64."""
    scale_to_zero: bool = False
    """Scale the served champion down to zero when idle (the default for dev; always on in ephemeral envs)."""
    rate_limit_per_minute: Annotated[int, Field(ge=1, le=100_000)] = 600
    """Calls per minute the whole endpoint accepts (AI Gateway rate limit keyed on the endpoint)."""


class Budget(StrictModel):
    """Monthly cost budget of what the environment spends (on Azure: its resource group and the workspace's
    managed resource group, where the clusters run)."""

    amount: Annotated[float, Field(gt=0)]
    """Monthly amount in the subscription's billing currency."""
    alert_thresholds: list[Annotated[int, Field(gt=0, le=1000)]] = [80, 100]  # noqa: RUF012 (pydantic copies defaults)
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
    serving: Serving = Serving()
    """The champion's model serving endpoint (scale to zero by default in dev)."""
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
    stack-created key also needs `network_isolation: private` and `platform.hub_network` (the deploying runner
    writes it through the vault's private endpoint). Not applied to ephemeral envs, whose vaults have no purge
    protection."""
    egress: Egress = Egress()
    """Where the clusters may connect to: open through a NAT gateway (prod needs a reason), through the Azure hub's
    firewall with an allow-list (Azure, default in prod there), or isolated behind back-end PrivateLink (AWS,
    default in prod there)."""

    audit: EnvAudit = EnvAudit()
    """Detection: audit alerts (default on in prod) and, on AWS, audit log delivery (default on in prod)."""

    hardening: Hardening = Hardening()
    """Workspace security controls: compliance profile, legacy features off, admin restrictions, workspace_conf
    and the front end's IP access list (all on by default in prod)."""

    serverless: Serverless = Serverless()
    """Serverless compute for the model jobs (off by default: job clusters under the env's cluster policy)."""

    deploy_runner: Annotated[list[RunnerLabel], Field(validate_default=True)] = []  # noqa: RUF012 (pydantic copies defaults)
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
        "serving": {"scale_to_zero": True},
    },
    "staging": {"instance_pool": True, "compute": {"spot": True, "min_workers": 1, "max_workers": 4}},
    "prod": {
        "instance_pool": True,
        "prevent_destroy": True,
        "require_approval": True,
        "network_isolation": "private",
        "customer_managed_key": {},
        "hardening": PROD_HARDENING,
        "egress": {"mode": "firewall"},
        "compute": {"spot": False, "min_workers": 2, "max_workers": 8},
        "audit": {"alerts": True, "log_delivery": True},
        "serverless": {"restricted_egress": True},
    },
}


# Per-kind defaults that only an Azure team's stacks implement.
AZURE_ONLY_ENV_DEFAULTS = ("network_isolation", "customer_managed_key", "egress")
# What an AWS team's envs get instead (egress.PROD_EGRESS_MODE).
AWS_ENV_DEFAULTS: dict[str, dict[str, Any]] = {"prod": {"egress": {"mode": "isolated"}}}


def merge_defaults(defaults: dict[str, Any], values: Any) -> Any:
    if not isinstance(values, dict):
        return values
    merged = dict(defaults)
    for key, value in values.items():
        merged[key] = merge_defaults(defaults[key], value) if isinstance(defaults.get(key), dict) else value
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
