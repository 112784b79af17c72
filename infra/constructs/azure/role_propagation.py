"""A wait between role assignments and the first call that relies on them (hashicorp/time's ``time_sleep``).

azurerm v4.55.0 waits only for ARM: internal/services/authorization/role_assignment_resource.go
(retryRoleAssignmentsClient) returns once ARM has read the new assignment back five times in a row. Key Vault's
data plane authorizes from its own cache of role assignments, which Microsoft documents can lag by up to ten
minutes; and internal/services/keyvault/key_vault_key_resource.go (resourceKeyVaultKeyCreate) does not retry a
403 from CreateKey, nor does the storage or Databricks resource that hands the key to its service. So a
resource that uses a role granted in the same apply waits here first. ``time_sleep`` waits only when it is
created (and when a grant it follows is replaced), never on later plans or on destroy.

The pattern is the provider's own: examples/netapp/nfsv3_volume_cmk_cross_tenant/main.tf (azurerm v4.55.0)
puts a ``time_sleep`` with ``triggers`` on the resource it waits for in a CMK flow. Databricks' SRA
(terraform-databricks-sra azure/tf/modules/hub/keyvault.tf) needs no wait because its key vault uses access
policies, which take effect at once; our baseline is an RBAC vault (PLAT-KV-1), and the identities that use the
key (the storage account's, the DBFS root's) exist only once their resources do, so no grant can be made ahead
of the apply. The deploying runner downloads hashicorp/time from the registry with azurerm; nothing in the test
suite plans an Azure stack offline.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktf import (
    TerraformProvider,
    TerraformProviderGeneratorMetadata,
    TerraformResource,
    TerraformStack,
)
from cdktf_cdktf_provider_azurerm.role_assignment import RoleAssignment
from constructs import Construct

TIME_PROVIDER_SOURCE, TIME_PROVIDER_VERSION = "hashicorp/time", "0.13.1"
# Microsoft's documented upper bound for a role assignment to take effect in Key Vault's data plane.
ROLE_PROPAGATION = "10m"
_PROVIDER_ID = "time"


def _time_provider(scope: Construct) -> TerraformProvider:
    stack = TerraformStack.of(scope)
    existing = stack.node.try_find_child(_PROVIDER_ID)
    if isinstance(existing, TerraformProvider):
        return existing
    return TerraformProvider(
        stack,
        _PROVIDER_ID,
        terraform_resource_type="time",
        terraform_generator_metadata=TerraformProviderGeneratorMetadata(
            provider_name="time", provider_version_constraint=TIME_PROVIDER_VERSION
        ),
        terraform_provider_source=TIME_PROVIDER_SOURCE,
    )


class RolesPropagated(Construct):
    """``time_sleep`` of ROLE_PROPAGATION after ``grants``: depend on ``.wait`` instead of on the grants.

    The grants' IDs are its ``triggers``: a grant that is replaced (a new identity) makes it wait again.
    """

    def __init__(self, scope: Construct, id: str, *, grants: Sequence[RoleAssignment]) -> None:
        super().__init__(scope, id)
        if not grants:  # not an assert: synth runs under python -O
            raise ValueError("a propagation wait follows at least one role assignment")
        self.wait = TerraformResource(
            self,
            "wait",
            terraform_resource_type="time_sleep",
            terraform_generator_metadata=TerraformProviderGeneratorMetadata(provider_name="time"),
            provider=_time_provider(self),
        )
        self.wait.add_override("create_duration", ROLE_PROPAGATION)
        self.wait.add_override("triggers", {f"grant_{i}": grant.id for i, grant in enumerate(grants)})
