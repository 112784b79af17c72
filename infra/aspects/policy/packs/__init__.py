"""The rule packs, grouped by what a stack deploys. Each pack module imports the engine, never the reverse."""

from infra.aspects.policy.engine import Rule, RulePack
from infra.aspects.policy.packs.audit import AUDIT_ACCOUNT, AUDIT_AZURE, AUDIT_WORKSPACE
from infra.aspects.policy.packs.aws_egress import AWS_EGRESS
from infra.aspects.policy.packs.aws_iam import AWS_IAM
from infra.aspects.policy.packs.aws_network import AWS_NETWORK
from infra.aspects.policy.packs.aws_storage import AWS_STORAGE
from infra.aspects.policy.packs.azure_egress import AZURE_EGRESS
from infra.aspects.policy.packs.azure_iam import AZURE_IAM
from infra.aspects.policy.packs.azure_key_vault import AZURE_KEY_VAULT
from infra.aspects.policy.packs.azure_monitoring import AZURE_MONITORING
from infra.aspects.policy.packs.azure_storage import AZURE_STORAGE
from infra.aspects.policy.packs.azure_workspace import AZURE_WORKSPACE
from infra.aspects.policy.packs.common import COMMON
from infra.aspects.policy.packs.databricks import DATABRICKS
from infra.aspects.policy.packs.databricks_hardening import AZURE_WORKSPACE_HARDENING, DATABRICKS_HARDENING
from infra.aspects.policy.packs.databricks_serverless import DATABRICKS_SERVERLESS
from infra.aspects.policy.packs.databricks_serving import DATABRICKS_SERVING
from infra.aspects.policy.packs.serverless_network import (
    AZURE_PLATFORM_ACCOUNT_FREE,
    AZURE_SERVERLESS_NETWORK,
    SERVERLESS_NETWORK,
)

AZURE: tuple[RulePack, ...] = (
    AZURE_WORKSPACE,
    AZURE_WORKSPACE_HARDENING,
    AZURE_STORAGE,
    AZURE_KEY_VAULT,
    AZURE_MONITORING,
    AZURE_IAM,
    AZURE_EGRESS,
    AUDIT_AZURE,
    AZURE_PLATFORM_ACCOUNT_FREE,
)
"""The cloud resources of an Azure team-env (its platform stack)."""
AZURE_ACCOUNT: tuple[RulePack, ...] = (AZURE_SERVERLESS_NETWORK,)
"""Databricks account resources of an Azure team-env (its account stack, where the env needs one)."""
AWS: tuple[RulePack, ...] = (AWS_NETWORK, AWS_EGRESS, AWS_STORAGE, AWS_IAM)
"""The cloud resources of an AWS team-env (its platform stack)."""
WORKSPACE: tuple[RulePack, ...] = (
    DATABRICKS,
    DATABRICKS_SERVING,
    AUDIT_WORKSPACE,
    DATABRICKS_HARDENING,
    DATABRICKS_SERVERLESS,
)
"""Everything inside a Databricks workspace (the workspace stack), whatever the cloud."""
ACCOUNT: tuple[RulePack, ...] = (AUDIT_ACCOUNT, SERVERLESS_NETWORK)
"""Databricks account resources of an AWS team-env (its account stack)."""
ALL_PACKS: tuple[RulePack, ...] = (*AZURE, *AWS, *WORKSPACE, *ACCOUNT, *AZURE_ACCOUNT, COMMON)


def all_rules() -> tuple[Rule, ...]:
    return tuple(rule for pack in ALL_PACKS for rule in pack.rules)
