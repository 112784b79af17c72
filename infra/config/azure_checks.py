"""What an Azure env's runner must reach on its first apply: the checks across envs that the hub decides.

A stack-created customer-managed key is written through its vault's data plane. With a private vault that is
the vault's private endpoint, resolved through a `privatelink.vaultcore.azure.net` zone: without a hub the zone
is the env's own, created in the same apply, so no runner network can be linked to it beforehand. The hub's
zones exist already and are linked to the runner's VNet; the stack peers the env with it. Without a hub, each
private env has zones of its own, and Azure links a VNet to only one zone of a name: one runner serves one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from infra.config.base import team_paths

if TYPE_CHECKING:
    from infra.config.platform_settings import PlatformSettings
    from infra.config.team import TeamConfig

HUB_FIX = "set platform.hub_network (docs/operations.md)"


def azure_problems(platform: PlatformSettings, teams: list[TeamConfig]) -> list[str]:
    """One line per problem, each starting with its field path (see base.CROSS_CHECK_MARK)."""
    if platform.hub_network is not None:
        return []
    problems: list[str] = []
    runners: dict[tuple[str, ...], str] = {}
    for team_path, team in zip(team_paths([team.name for team in teams]), teams, strict=True):
        if team.cloud != "azure":
            continue
        for env, settings in team.environments.items():
            path = f"{team_path}.environments.{env}"
            key = settings.customer_managed_key
            if key is not None and key.existing_key_id is None and settings.network_isolation == "private":
                problems.append(
                    f"{path}.customer_managed_key: the stack creates the key through the private vault's endpoint, "
                    "which no runner can reach on the first apply without a hub; "
                    f"{HUB_FIX}, or name an existing key (existing_key_id)"
                )
            if not settings.reachable_only_from_its_network:
                continue
            labels = tuple(sorted(settings.deploy_runner))
            if labels in runners:
                problems.append(
                    f"{path}.deploy_runner: the same runner as {runners[labels]}, but without a hub each private "
                    "env has privatelink zones of its own and a runner's VNet links only one zone of a name; "
                    f"give each private env its own runner, or {HUB_FIX}"
                )
            runners.setdefault(labels, path)
    return problems
