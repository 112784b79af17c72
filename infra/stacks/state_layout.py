"""Where each stack keeps its Terraform state: under the platform's prefix, so platforms never share state.

Two platforms (prefixes `dbp` and `sbx`) with a team `churn` once both kept `churn/dev/platform.tfstate` in a
shared container, or `terraform.churn-dev-platform.tfstate` in one checkout: each planned to replace, and
destroy, the other's env. The prefix is what names every resource of a platform, so it names its state too.
Pure names, no cdktf: the lifecycle reads them without loading the provider bindings.
"""

from infra.config import TeamEnv

# From a stack's working directory (cdktf.out/stacks/<stack>/) to the directory holding cdktf.out.
LOCAL_STATE_DIR = "../../.."


def state_key(team_env: TeamEnv, component: str) -> str:
    """`<prefix>/<team>/<env>/<component>.tfstate`: the blob (azurerm) or object (s3) of one stack's state."""
    return f"{team_env.platform.prefix}/{team_env.team.name}/{team_env.env}/{component}.tfstate"


def local_state_file(team_env: TeamEnv, component: str) -> str:
    """`terraform.<prefix>-<team>-<env>-<component>.tfstate`, in the directory that holds cdktf.out."""
    return f"terraform.{team_env.platform.prefix}-{team_env.team.name}-{team_env.env}-{component}.tfstate"


def unprefixed_state_key(team_env: TeamEnv, component: str) -> str:
    """Where the stack's state was kept before keys carried the prefix (to be moved, see docs/operations.md)."""
    return f"{team_env.team.name}/{team_env.env}/{component}.tfstate"


def unprefixed_local_state_file(team_env: TeamEnv, component: str) -> str:
    return f"terraform.{team_env.team.name}-{team_env.env}-{component}.tfstate"
