"""AWS teams: their settings, regions, node types, derived names and the cross-cloud checks.

Kept apart so Azure-only code never reads it; the team model calls in here for the places where the team's cloud
decides (which regions are valid, which node type a fresh env gets; node_types.py checks the node types). Names derived for an AWS
team-env live in aws_names.py, the checks across teams in cross_checks.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, Field

from infra.config.base import StrictModel, team_paths
from infra.config.regions import DATABRICKS_REGIONS

if TYPE_CHECKING:
    from infra.config.team import TeamConfig

# AWS regions where Databricks offers E2 workspaces with customer-managed VPCs (Databricks docs, "Databricks
# clouds and regions", AWS).
AWS_DATABRICKS_REGIONS: frozenset[str] = frozenset(
    {
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ca-central-1",
        "sa-east-1",
        "eu-central-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-north-1",
        "ap-south-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-northeast-1",
        "ap-northeast-2",
    }
)

# Databricks' own AWS account: the cross-account role and the root bucket policy trust it (Databricks docs,
# "Create a cross-account IAM role" and "Create an S3 bucket for workspace deployment").
DATABRICKS_AWS_ACCOUNT = "414351767826"
# The Unity Catalog master role that assumes each storage credential's role (Databricks docs, "Create a storage
# credential for connecting to AWS S3").
UNITY_CATALOG_MASTER_ROLE = (
    f"arn:aws:iam::{DATABRICKS_AWS_ACCOUNT}:role/unity-catalog-prod-UCMasterRole-14S5ZJVKOTYTL"
)

DEFAULT_AWS_NODE_TYPE = "m6id.xlarge"
"""Node type of AWS envs that set none: 4 vCPU, 16 GiB, local NVMe for Spark's disk cache."""
EPHEMERAL_AWS_NODE_TYPE = "m6id.large"


# The retention values CloudWatch Logs accepts: the aws provider v5.100.0 validates retention_in_days against
# exactly this list (internal/service/logs/group.go, validation.IntInSlice); `terraform validate` with 366 says
# "expected retention_in_days to be one of [0 1 3 5 7 ... 3288 3653], got 366".
CLOUDWATCH_RETENTION_DAYS = [0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]  # fmt: skip
FLOW_LOG_RETENTION_DAYS = [days for days in CLOUDWATCH_RETENTION_DAYS if days >= 365]


def check_cloudwatch_retention(value: int) -> int:
    if value not in FLOW_LOG_RETENTION_DAYS:
        raise ValueError(
            f"{value} is not a CloudWatch Logs retention of at least a year; use one of {FLOW_LOG_RETENTION_DAYS}"
        )
    return value


class AwsSettings(StrictModel):
    """Where an AWS team's resources live (`cloud: aws` only)."""

    account_id: Annotated[str, Field(pattern=r"^[0-9]{12}$")]
    """12-digit AWS account that holds the team's VPCs, buckets and roles. The aws provider refuses to run
    against any other account (allowed_account_ids), so a wrong profile can never deploy elsewhere."""
    nat_gateway: bool = True
    """Egress of the cluster subnets through a NAT gateway in a public subnet (Databricks' default customer-managed
    VPC design) for the envs whose `egress.mode` is `open`. `false` is refused: an env without NAT is asked for
    per env, with `environments.<env>.egress.mode: isolated` (back-end PrivateLink, docs/aws.md)."""
    flow_log_retention_days: Annotated[
        int,
        AfterValidator(check_cloudwatch_retention),
        Field(json_schema_extra={"enum": FLOW_LOG_RETENTION_DAYS}),
    ] = 365
    """Days the VPC flow logs stay in CloudWatch Logs: one of CloudWatch's retention values of at least a year
    (365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."""


def region_problem(cloud: str, region: str) -> str | None:
    """Why ``region`` is wrong for a team of ``cloud``, or None."""
    if cloud == "aws":
        if region in AWS_DATABRICKS_REGIONS:
            return None
        if region in DATABRICKS_REGIONS:
            return f"{region!r} is an Azure region; an AWS team needs an AWS region with Databricks (e.g. 'eu-west-1')"
        return f"{region!r} is not an AWS region with Databricks (one of {', '.join(sorted(AWS_DATABRICKS_REGIONS))})"
    if region in AWS_DATABRICKS_REGIONS:
        return f"{region!r} is an AWS region; an Azure team needs an Azure region (or set cloud: aws)"
    return None


def with_aws_defaults(data: Any) -> Any:
    """A raw team mapping with AWS node types filled in where an AWS team set none (Azure teams unchanged)."""
    if not isinstance(data, dict) or data.get("cloud") != "aws":
        return data
    data = dict(data)
    if isinstance(data.get("environments"), dict):
        data["environments"] = {
            env: _with_node_type(settings, DEFAULT_AWS_NODE_TYPE)
            for env, settings in data["environments"].items()
        }
    if isinstance(data.get("ephemeral"), dict):
        ephemeral = dict(data["ephemeral"])
        compute = ephemeral.get(
            "compute", {"min_workers": 0, "max_workers": 1, "spot": True, "autotermination_minutes": 15}
        )
        ephemeral["compute"] = compute
        data["ephemeral"] = _with_node_type(ephemeral, EPHEMERAL_AWS_NODE_TYPE)
    return data


def _with_node_type(settings: Any, node_type: str) -> Any:
    if not isinstance(settings, dict):
        return settings
    compute = settings.get("compute", {})
    if not isinstance(compute, dict) or "node_type" in compute:
        return settings
    return {**settings, "compute": {**compute, "node_type": node_type}}


# Env settings an AWS team-env cannot deliver yet: each validates on Azure, and on AWS would deploy something
# other than configured (a public workspace, no customer key). Refused until implemented as SRA does.
NOT_ON_AWS_YET = (
    (
        "public_network_access",
        lambda settings: not settings.public_network_access,
        "false needs front-end PrivateLink, which AWS teams do not get yet; set it to true (docs/aws.md)",
    ),
    (
        "network_isolation",
        lambda settings: settings.network_isolation == "private",
        "private is the Azure lake and vault's private endpoints; on AWS, back-end PrivateLink is "
        "egress: {mode: isolated}: remove network_isolation (docs/aws.md)",
    ),
    (
        "customer_managed_key",
        lambda settings: (
            settings.customer_managed_key is not None
            and settings.customer_managed_key.existing_key_id is not None
        ),
        "existing_key_id names an Azure Key Vault key; on AWS the stack creates the workspace keys: use "
        "customer_managed_key: {} (docs/aws.md)",
    ),
)


# Email subscribers of one AWS budget notification (AWS Budgets API, NotificationWithSubscribers: one SNS topic and
# up to 10 email addresses); the env's budget mails every notification_emails address at each threshold.
BUDGET_EMAIL_SUBSCRIBERS = 10

# The private settings of NOT_ON_AWS_YET as written (before the env validates): an env asking for them is first
# told to name a deploy_runner (environment.py), a fix that only leads to the AWS refusal, so they are refused before.
_PRIVATE_AS_WRITTEN = {
    "public_network_access": lambda value: value is False,
    "network_isolation": lambda value: value == "private",
}
# An existing key on AWS is refused the same way: checked as an Azure key first, an AWS key ARN was told to be a
# Key Vault URL, and a key without a vault to name its Key Vault.
_EXISTING_KEY_FIELDS = ("existing_key_id", "existing_key_vault_id")


def private_settings_refused(environments: Any) -> list[str]:
    """`<env>.<field>: why` for each private setting or existing key an AWS team's envs ask for (raw mapping, before
    validation)."""
    if not isinstance(environments, dict):
        return []
    whys = {field: why for field, _, why in NOT_ON_AWS_YET}
    refused = []
    for env, settings in environments.items():
        if not isinstance(settings, dict):
            continue
        refused += [
            f"{env}.{field}: {whys[field]}"
            for field, asked in _PRIVATE_AS_WRITTEN.items()
            if field in settings and asked(settings[field])
        ]
        key = settings.get("customer_managed_key")
        if isinstance(key, dict) and any(field in key for field in _EXISTING_KEY_FIELDS):
            refused.append(f"{env}.customer_managed_key: {whys['customer_managed_key']}")
    return refused


def aws_team_problems(path: str, team: TeamConfig) -> list[str]:
    """What an AWS team's config asks for that its stacks cannot deliver, one line each with the field and the fix."""
    if team.cloud != "aws":
        return []
    problems = [
        f"{path}.environments.{env}.{field}: {why}"
        for env, settings in team.environments.items()
        for field, asked, why in NOT_ON_AWS_YET
        if asked(settings)
    ]
    if len(team.notification_emails) > BUDGET_EMAIL_SUBSCRIBERS:
        problems.append(
            f"{path}.notification_emails: {len(team.notification_emails)} addresses, but an AWS budget alert mails "
            f"at most {BUDGET_EMAIL_SUBSCRIBERS} (the budget would fail at apply); list at most "
            f"{BUDGET_EMAIL_SUBSCRIBERS}, e.g. a team distribution list"
        )
    if team.aws is not None and not team.aws.nat_gateway:
        problems.append(
            f"{path}.aws.nat_gateway: false would leave the open-egress envs no path to the Databricks control plane; "
            "set it to true and give the envs without NAT egress: {mode: isolated} (back-end PrivateLink)"
        )
    return problems


# Default per-region quotas of an AWS account (Amazon VPC quotas): every env has one VPC and one NAT gateway with an
# Elastic IP, and most accounts keep their default VPC, which counts too.
DEFAULT_VPC_QUOTA = 5
DEFAULT_EIP_QUOTA = 5


def aws_deploy_warnings(teams: list[TeamConfig]) -> list[str]:
    """What validates but may stop a deploy on an AWS account's defaults: one warning line each."""
    by_place: dict[tuple[str, str], list[tuple[str, TeamConfig]]] = {}
    for path, team in zip(team_paths([team.name for team in teams]), teams, strict=True):
        if team.cloud == "aws" and team.aws is not None:
            by_place.setdefault((team.aws.account_id, team.region), []).append((path, team))
    warnings = []
    for (account, region), placed in by_place.items():
        # A team with an ephemeral template runs at least one ephemeral env beside its permanent ones.
        envs = sum(len(team.environments) + (1 if team.ephemeral else 0) for _, team in placed)
        vpcs, eips = envs + 1, envs  # + the default VPC
        if vpcs > DEFAULT_VPC_QUOTA or eips > DEFAULT_EIP_QUOTA:
            first = placed[0][0]
            teams_named = ", ".join(repr(team.name) for _, team in placed)
            warnings.append(
                f"{first}.region: {envs} envs of {teams_named} (one ephemeral env counted per template) "
                f"need {vpcs} VPCs with the default one and {eips} Elastic IPs in {region} of AWS account {account}, "
                f"above the default quotas ({DEFAULT_VPC_QUOTA} VPCs, {DEFAULT_EIP_QUOTA} Elastic IPs per region); "
                "request increases (Service Quotas) before deploying them all"
            )
    return warnings + _shared_account_warnings(teams)


def _shared_account_warnings(teams: list[TeamConfig]) -> list[str]:
    """Budgets filter on the env tag within one account: two teams' same-named envs there count each other's spend."""
    by_account: dict[str, list[tuple[str, TeamConfig]]] = {}
    for path, team in zip(team_paths([team.name for team in teams]), teams, strict=True):
        if team.cloud == "aws" and team.aws is not None:
            by_account.setdefault(team.aws.account_id, []).append((path, team))
    warnings = []
    for account, placed in by_account.items():
        env_names = [env for _, team in placed for env in team.environments]
        shared = sorted({env for env in env_names if env_names.count(env) > 1})
        if shared:
            warnings.append(
                f"{placed[-1][0]}.aws.account_id: teams {', '.join(repr(t.name) for _, t in placed)} share "
                f"AWS account {account}, so the budgets of their {'/'.join(shared)} envs (filtered on the env tag) "
                "count each other's spend; give each AWS team its own account"
            )
    return warnings
