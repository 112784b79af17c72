"""What the workspace stack needs from Unity Catalog before it is applied, checked with the deployer's identity.

The workspace stack creates a storage credential, external locations and a catalog in the region's metastore.
That needs a metastore assigned to the workspace (or `platform.metastore_id`, which the stack assigns itself)
and, on that metastore, CREATE STORAGE CREDENTIAL, CREATE EXTERNAL LOCATION and CREATE CATALOG for the caller
(or its ownership of the metastore). The stack cannot grant these to itself: only a metastore admin can. Without
them the apply stops half way, after the job identity and policies exist. `platform deploy` and `env up` check
them once the workspace exists (after the platform stack, before the workspace stack) and stop with one line
per missing precondition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from infra.config import TeamEnv
from infra.lifecycle.errors import OperationFailed

# What the workspace stack creates in the metastore (infra/constructs/databricks/unity_catalog.py).
REQUIRED_METASTORE_PRIVILEGES = ("CREATE_STORAGE_CREDENTIAL", "CREATE_EXTERNAL_LOCATION", "CREATE_CATALOG")


@dataclass(frozen=True)
class Caller:
    """Who the workspace sees: the name grants use (user name or application ID) and the caller's groups."""

    name: str
    groups: frozenset[str] = frozenset()

    @property
    def principals(self) -> frozenset[str]:
        return self.groups | {self.name}


class MetastoreView(Protocol):
    def caller(self) -> Caller: ...

    def assigned_metastore(self) -> str | None:
        """ID of the metastore assigned to the workspace, None when there is none."""

    def metastore_owner(self, metastore_id: str) -> str | None: ...

    def effective_privileges(self, metastore_id: str) -> dict[str, set[str]]:
        """Principal -> privileges it holds on the metastore (direct and inherited)."""


def precondition_problems(team_env: TeamEnv, view: MetastoreView) -> list[str]:
    """One line per precondition the workspace stack would fail on; empty when it can be applied."""
    problems: list[str] = []
    caller = view.caller()
    configured = str(team_env.platform.metastore_id) if team_env.platform.metastore_id else None
    assigned = view.assigned_metastore()
    if assigned is None and configured is None:
        problems.append(
            f"no Unity Catalog metastore is assigned to the workspace of {team_env.key}: an account admin "
            "assigns the region's metastore, or set platform.metastore_id"
        )
        return problems
    if assigned is not None and configured is not None and assigned != configured:
        problems.append(
            f"the workspace of {team_env.key} is assigned to metastore {assigned}, "
            f"platform.metastore_id is {configured}"
        )
        return problems
    if assigned is None:
        # The stack assigns platform.metastore_id itself; until then the workspace cannot read its grants.
        return problems
    if view.metastore_owner(assigned) in caller.principals:
        return problems
    held = set().union(
        *(p for who, p in view.effective_privileges(assigned).items() if who in caller.principals)
    )
    problems += [
        f"{caller.name} lacks {privilege.replace('_', ' ')} on metastore {assigned}: a metastore admin runs "
        f"GRANT {privilege.replace('_', ' ')} ON METASTORE TO `{caller.name}`"
        for privilege in REQUIRED_METASTORE_PRIVILEGES
        if privilege not in held
    ]
    return problems


def check_preconditions(team_env: TeamEnv, view: MetastoreView) -> None:
    """Raise OperationFailed with every problem, one line each, before the workspace stack is applied."""
    try:
        problems = precondition_problems(team_env, view)
    except OperationFailed:
        raise
    except Exception as exc:  # the SDK raises many kinds (auth, network, API errors): one line either way
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OperationFailed(f"preflight of {team_env.key} could not read the workspace: {first}") from None
    if problems:
        raise OperationFailed(
            f"workspace stack of {team_env.key} not applied:\n" + "\n".join(f"  {p}" for p in problems)
        )


class SdkMetastoreView:
    """The real MetastoreView on a databricks-sdk WorkspaceClient."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @classmethod
    def for_azure_workspace(cls, resource_id: str) -> SdkMetastoreView:
        """Authenticates like the workspace provider (Azure CLI / environment / OIDC, the workspace's ID)."""
        from databricks.sdk import WorkspaceClient

        return cls(WorkspaceClient(azure_workspace_resource_id=resource_id))

    @classmethod
    def for_workspace_url(cls, url: str) -> SdkMetastoreView:
        """An AWS workspace, authenticated like the AWS workspace stack's provider: its URL as host, credentials
        from the environment (DATABRICKS_CLIENT_ID / _SECRET of a service principal, or OIDC in CI)."""
        from databricks.sdk import WorkspaceClient

        return cls(WorkspaceClient(host=url))

    def caller(self) -> Caller:
        me = self._client.current_user.me()
        return Caller(me.user_name, frozenset(g.display for g in me.groups or () if g.display))

    def assigned_metastore(self) -> str | None:
        from databricks.sdk.errors import NotFound

        try:
            return self._client.metastores.current().metastore_id
        except NotFound:  # 404 METASTORE_DOES_NOT_EXIST: "No metastore assigned for the current workspace"
            return None

    def metastore_owner(self, metastore_id: str) -> str | None:
        return self._client.metastores.get(metastore_id).owner

    def effective_privileges(self, metastore_id: str) -> dict[str, set[str]]:
        effective = self._client.grants.get_effective("metastore", metastore_id)
        return {
            assignment.principal: {
                getattr(p.privilege, "value", str(p.privilege)) for p in assignment.privileges or ()
            }
            for assignment in effective.privilege_assignments or ()
            if assignment.principal
        }
