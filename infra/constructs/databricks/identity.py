"""Who is who inside the workspace: the deployer, the team's groups and the principal the jobs run as."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from cdktf_cdktf_provider_databricks.access_control_rule_set import (
    AccessControlRuleSet,
    AccessControlRuleSetGrantRules,
)
from cdktf_cdktf_provider_databricks.cluster import Cluster
from cdktf_cdktf_provider_databricks.permission_assignment import PermissionAssignment
from cdktf_cdktf_provider_databricks.permissions import Permissions, PermissionsAccessControl
from cdktf_cdktf_provider_databricks.secret_acl import SecretAcl
from cdktf_cdktf_provider_databricks.service_principal import ServicePrincipal
from constructs import Construct

PrincipalKind = Literal["group", "service_principal", "user"]


@dataclass(frozen=True)
class Principal:
    """A workspace identity, named the way each API wants it.

    Unity Catalog grants and secret ACLs take a plain name (group name, user name or service principal
    application ID); workspace permissions need to know which of the three it is.
    """

    name: str
    kind: PrincipalKind

    @classmethod
    def group(cls, name: str) -> Principal:
        return cls(name, "group")

    @classmethod
    def service_principal(cls, application_id: str) -> Principal:
        return cls(application_id, "service_principal")

    @classmethod
    def deployer(cls, deployer_principal: str) -> Principal:
        """The config's deployer: a service principal application ID, or a user name for a human deploy."""
        try:
            UUID(deployer_principal)
        except ValueError:
            return cls(deployer_principal, "user")
        return cls(deployer_principal, "service_principal")

    def can(self, permission_level: str) -> PermissionsAccessControl:
        """An `access_control` block of `databricks_permissions` for this principal."""
        if self.kind == "group":
            return PermissionsAccessControl(group_name=self.name, permission_level=permission_level)
        if self.kind == "service_principal":
            return PermissionsAccessControl(
                service_principal_name=self.name, permission_level=permission_level
            )
        return PermissionsAccessControl(user_name=self.name, permission_level=permission_level)

    @property
    def acl_principal_id(self) -> str:
        """The form account rule sets use (`groups/…`, `servicePrincipals/…`, `users/…`)."""
        prefix = {"group": "groups", "service_principal": "servicePrincipals", "user": "users"}[self.kind]
        return f"{prefix}/{self.name}"


class JobServicePrincipal(Construct):
    """A Databricks-managed service principal that the env's jobs run as, owned by no person.

    `run_as` needs the deploying principal to hold the Service Principal User role on it. The creator only
    gets the Manager role, which does not include User, so the role is granted here through the
    service principal's account rule set (authoritative: the deployer keeps Manager explicitly). The rule set
    name needs the Databricks account ID; without it the grant is left to an account admin.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        display_name: str,
        deployer: Principal,
        account_id: str | None,
    ) -> None:
        super().__init__(scope, id)
        # No application_id: Databricks generates one (a Databricks-managed service principal, no Entra ID
        # app registration, no secret). It may not create clusters or pools; policies bound it.
        self.service_principal = ServicePrincipal(
            self,
            "service-principal",
            display_name=display_name,
            allow_cluster_create=False,
            allow_instance_pool_create=False,
        )
        self.principal = Principal.service_principal(self.service_principal.application_id)
        self.role_grants: AccessControlRuleSet | None = None
        if account_id:
            self.role_grants = AccessControlRuleSet(
                self,
                "roles",
                name=(
                    f"accounts/{account_id}/servicePrincipals/"
                    f"{self.service_principal.application_id}/ruleSets/default"
                ),
                grant_rules=[
                    AccessControlRuleSetGrantRules(
                        role="roles/servicePrincipal.manager", principals=[deployer.acl_principal_id]
                    ),
                    AccessControlRuleSetGrantRules(
                        role="roles/servicePrincipal.user", principals=[deployer.acl_principal_id]
                    ),
                ],
            )

    @property
    def application_id(self) -> str:
        return self.service_principal.application_id


# Workspace objects whose access lists (or dedicated owner) name workspace principals.
_WORKSPACE_ACL_TYPES = (Permissions, SecretAcl, Cluster)


class WorkspaceGroups(Construct):
    """Adds the team's account groups to the workspace, so workspace ACLs and the team cluster can name them.

    With identity federation an account group exists in a workspace only once it is assigned to it; until then
    `databricks_permissions`, secret ACLs and a group-dedicated cluster that name it fail. The assignment uses
    the workspace-level `databricks_permission_assignment` by `group_name` (access/resource_permission_assignment.go,
    databricks v1.99.0: "can only be used with a workspace-level provider", looks the account group up by name).
    The account-level `databricks_mws_permission_assignment` needs the account provider and the group's numeric
    id (mws/resource_mws_permission_assignment.go), which this stack's workspace provider has neither of.
    """

    def __init__(self, scope: Construct, id: str, *, groups: Sequence[Principal]) -> None:
        super().__init__(scope, id)
        self.assignments = [
            PermissionAssignment(self, f"group-{index}", group_name=group.name, permissions=["USER"])
            for index, group in enumerate(groups)
        ]

    def precede_acls_in(self, scope: Construct) -> None:
        """Order every workspace ACL resource under `scope` after the assignments (create after, destroy before)."""
        # Plain addresses: `fqn` is a `${...}` reference token, which depends_on does not take.
        addresses = [f"{a.terraform_resource_type}.{a.friendly_unique_id}" for a in self.assignments]
        for construct in scope.node.find_all():
            if isinstance(construct, _WORKSPACE_ACL_TYPES):
                construct.depends_on = [*(construct.depends_on or []), *addresses]
