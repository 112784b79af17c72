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
    from infra.config.environment import EnvironmentConfig
    from infra.config.platform_settings import PlatformSettings
    from infra.config.team import TeamConfig

HUB_FIX = "set platform.hub_network (docs/operations.md)"


def azure_problems(platform: PlatformSettings, teams: list[TeamConfig]) -> list[str]:
    """One line per problem, each starting with its field path (see base.CROSS_CHECK_MARK)."""
    if platform.hub_network is not None:
        return []
    problems: list[str] = []
    runners: list[tuple[frozenset[str], str]] = []
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
            if not settings.public_network_access:
                problems.append(
                    f"{path}.public_network_access: a private front end is reached through the env's "
                    "privatelink.azuredatabricks.net zone, which without a hub is created in the same apply and "
                    "linked to no runner's network, so the workspace stack cannot be deployed; "
                    f"{HUB_FIX}, or keep the front end public"
                )
            if not settings.reachable_only_from_its_network:
                continue
            # GitHub runs a job on any runner that has all of its `runs-on` labels: when one env's labels are a
            # subset of another's (equal included), every runner of the other env serves both.
            labels = frozenset(settings.deploy_runner)
            shared = next((other for seen, other in runners if labels <= seen or seen <= labels), None)
            if shared is not None:
                problems.append(
                    f"{path}.deploy_runner: the same runner as {shared} (one env's labels are a subset of the "
                    "other's), but without a hub each private env has privatelink zones of its own and a runner's "
                    f"VNet links only one zone of a name; give each private env its own runner, or {HUB_FIX}"
                )
            runners.append((labels, path))
    return problems


def ephemeral_problem(platform: PlatformSettings, team: TeamConfig, base: EnvironmentConfig) -> str | None:
    """Why an ephemeral env cut from ``base`` could not be deployed from its base's runner, or None.

    It keeps the base's private settings and runner labels, but without a hub it gets zones of its own, which
    the runner's VNet (linked to the base's zones of the same names) cannot resolve: the workspace stack would
    fail after the platform stack was applied. The same rule as two private envs on one runner, above.
    """
    if team.cloud != "azure" or platform.hub_network is not None or not base.reachable_only_from_its_network:
        return None
    return (
        "the env is reachable only from its runner's network, and without a hub an ephemeral env cut from it "
        "gets privatelink zones of its own that this runner's VNet cannot resolve; "
        f"{HUB_FIX}, or cut it from an env with public_network_access: true and network_isolation: service_endpoints"
    )
