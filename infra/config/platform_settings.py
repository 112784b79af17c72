"""Platform-wide settings: naming prefix, identities, runtime, state backend and the hub network."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field, field_validator, model_validator

from infra.config.audit import AuditSettings
from infra.config.base import StrictModel
from infra.config.egress import HubFirewall
from infra.config.naming import s3_bucket_problem
from infra.config.package_index import PackageIndexUrl

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


class StateBackend(StrictModel):
    """Where Terraform state lives. Local by default; one azurerm blob or S3 object per stack when configured."""

    kind: Literal["local", "azurerm", "s3"] = "local"
    """`local`: `terraform.<prefix>-<stack>.tfstate` files beside cdktf.out (the project root). `azurerm`: blob state.
    `s3`: objects in an S3 bucket, locked with a lock file beside each state (use_lockfile, no DynamoDB)."""
    resource_group_name: Annotated[str, Field(pattern=r"^[-\w.()]{0,89}[-\w()]$")] | None = None
    """1-90 letters, digits, '-', '_', '.', '()', not ending in '.': the resource group of the state storage
    account (azurerm only)."""
    storage_account_name: Annotated[str, Field(pattern=r"^[a-z0-9]{3,24}$")] | None = None
    """3-24 lowercase letters and digits: the state storage account (azurerm only). Access uses Entra ID, never
    account keys. It must not be one an env derives (validate checks)."""
    container_name: Annotated[str, Field(pattern=r"^[a-z0-9](-?[a-z0-9])+$", min_length=3, max_length=63)] = (
        "tfstate"
    )
    """3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit: the blob
    container holding state; each stack uses key `<prefix>/<team>/<env>/<component>.tfstate`."""
    bucket: str | None = None
    """S3 bucket holding state (s3 only), named by S3's bucket rules; each stack uses key
    `<prefix>/<team>/<env>/<component>.tfstate`. It must not be one an env derives (validate checks)."""
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")] | None = None
    """An AWS region such as eu-west-1: the region of the S3 state bucket (s3 only)."""

    @field_validator("bucket")
    @classmethod
    def _bucket_rules(cls, value: str | None) -> str | None:
        problem = value and s3_bucket_problem(value)
        if problem:
            raise ValueError(problem)
        return value

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


# The privatelink zones the hub's owner keeps for every private env (HubNetwork).
SHARED_ZONES = (
    "privatelink.azuredatabricks.net",
    "privatelink.dfs.core.windows.net",
    "privatelink.blob.core.windows.net",
    "privatelink.vaultcore.azure.net",
)


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
    firewall: HubFirewall | None = None
    """The hub's Azure Firewall, which envs with `egress.mode: firewall` route their internet traffic through.
    Unset: no env can use firewall egress (validate refuses it)."""

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

    @staticmethod
    def peering_name(virtual_network: str) -> str:
        """The hub's peering to the env VNet ``virtual_network``: unique in the hub VNet, as the VNet's name is."""
        return f"peer-hub-to-{virtual_network}"

    @staticmethod
    def zone_link_name(virtual_network: str) -> str:
        """The link of a shared zone to the env VNet ``virtual_network``: unique per env in a shared zone."""
        return f"link-{virtual_network}"

    def env_side_ids(self, virtual_network: str) -> list[str]:
        """ARM IDs of what an env with VNet ``virtual_network`` adds to the hub (its peering, its link to each
        shared zone): outside the env's resource group, so deleting the group leaves them behind."""
        return [
            f"{self.virtual_network_id}/virtualNetworkPeerings/{self.peering_name(virtual_network)}",
            *(
                f"{self.private_dns_zone_id(zone)}/virtualNetworkLinks/{self.zone_link_name(virtual_network)}"
                for zone in SHARED_ZONES
            ),
        ]


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
    """Unity Catalog metastore to assign to each workspace, so only when every team is in one cloud and region (a
    metastore serves one region; validate refuses it otherwise). Unset: the region's automatically assigned
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
    package_index: PackageIndexUrl | None = None
    """A private package index (an https URL serving pip's simple API) the deploying runner downloads the
    wheelhouse wheels of isolated envs from, instead of PyPI (the SRA's private repository for workspaces without
    internet access). The wheels are checked against Pipfile.lock's sha256 hashes either way."""
    budget_start: date | None = None
    """Optional first month (a first day of a month) before which no budget starts. Unset: each env's budget
    starts on the first of the month of the deploy that creates it, the only past date Azure accepts; a date
    before that month is moved up to it, and Azure accepts none more than 12 months ahead. The start is kept after
    creation."""
    log_retention_days: Annotated[int, Field(ge=30, le=730)] = 30
    """Log Analytics retention in days (30-730)."""
    state_backend: StateBackend = StateBackend()
    """Terraform state location."""
    hub_network: HubNetwork | None = None
    """The hub VNet and shared privatelink DNS zones private envs join (Azure). Unset: private envs are
    islands with zones of their own, each reachable only from a runner network linked to its zones; validate
    then refuses a stack-created key behind a private vault and two private envs naming the same runner."""
    audit: AuditSettings = AuditSettings()
    """Audit and detection across the platform: which env enables each metastore's system tables, and the
    Security Analysis Tool."""

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
        today = datetime.now(UTC).date()
        if value is not None and value > today.replace(year=today.year + 1, day=1):
            # Azure refuses a budget whose start is more than a year ahead (the apply fails, not the plan).
            raise ValueError(
                f"{value.isoformat()} is more than a year ahead; Azure budgets start at most 12 months from now"
            )
        return value

    @property
    def spark_version(self) -> str:
        return RUNTIMES[self.runtime]
