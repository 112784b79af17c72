"""Create and destroy order of every synthesized stack, on Terraform's dependency graph (tests/terraform_graph.py).

Nothing here can run `terraform destroy` against Azure or Databricks, so the order Terraform would choose is
checked on the graph it builds from the JSON: references and `depends_on`. Each rule names the provider code
or Azure behaviour it encodes. The checks are written over resource types, not over names, so new resources
(another private endpoint, another securable in the catalog) are covered without changing the tests.
"""

from __future__ import annotations

import pytest

from infra.lifecycle.rollout import Rollout
from tests.terraform_graph import StackGraph, references

# Unity Catalog objects that live inside a catalog and are deleted through the workspace API.
IN_CATALOG_TYPES = frozenset(
    {
        "databricks_schema",
        "databricks_volume",
        "databricks_registered_model",
        "databricks_sql_table",
        "databricks_grants",
        "databricks_grant",
        "databricks_file",
    }
)


@pytest.fixture(scope="module")
def graphs(synthesized, synthesized_ephemeral) -> dict[str, StackGraph]:
    stacks = {name: synthesized.json(name) for name in synthesized.stack_names}
    stacks |= {name: synthesized_ephemeral.json(name) for name in synthesized_ephemeral.stack_names}
    return {name: StackGraph(stack) for name, stack in stacks.items()}


def _stacks(graphs: dict[str, StackGraph], suffix: str) -> list[tuple[str, StackGraph]]:
    # Azure platform stacks only: an AWS team's platform stack goes through real Terraform (test_aws_terraform.py)
    found = [
        (name, graph)
        for name, graph in sorted(graphs.items())
        if name.endswith(suffix) and (suffix != "-platform" or "provider.azurerm" in graph.nodes)
    ]
    assert found, f"no *{suffix} stack synthesized"
    return found


def _mentions(config: object, literal: str) -> bool:
    if isinstance(config, str):
        return literal in config
    if isinstance(config, dict):
        return any(_mentions(v, literal) for k, v in config.items() if k not in ("//", "depends_on"))
    if isinstance(config, list):
        return any(_mentions(v, literal) for v in config)
    return False


def test_every_stack_has_a_destroy_order(graphs):
    for name, graph in graphs.items():
        order = graph.destroy_order()  # raises on a cycle
        assert len(order) == len(graph.nodes), name


def test_graph_model_orders_a_resource_after_its_aliased_provider():
    graph = StackGraph(
        {
            "provider": {"azurerm": [{"features": [{}]}, {"alias": "hub", "features": [{}]}]},
            "resource": {"azurerm_thing": {"t": {"provider": "azurerm.hub"}}},
        }
    )
    assert graph.depends("azurerm_thing.t", "provider.azurerm.hub")


def test_graph_model_reads_nested_references_and_depends_on():
    """The model itself: a reference inside a nested block and a depends_on entry are both edges."""
    graph = StackGraph(
        {
            "provider": {"azurerm": [{"features": [{}]}]},
            "resource": {
                "azurerm_subnet": {"s": {"name": "snet"}},
                "azurerm_thing": {
                    "t": {"block": [{"deep": {"id": "x-${azurerm_subnet.s.id}"}}]},
                    "u": {"depends_on": ["azurerm_thing.t"]},
                },
            },
        }
    )
    assert graph.depends("azurerm_thing.t", "azurerm_subnet.s")
    assert graph.depends("azurerm_thing.u", "azurerm_subnet.s")
    assert graph.depends("azurerm_thing.u", "provider.azurerm")
    assert not graph.depends("azurerm_subnet.s", "azurerm_thing.t")
    assert graph.destroy_order().index("azurerm_thing.u") < graph.destroy_order().index("azurerm_subnet.s")


# ---- Unity Catalog ----


def test_nothing_in_an_isolated_catalog_outlives_its_workspace_binding(graphs):
    """databricks_workspace_binding's Delete only removes the binding (catalog/resource_workspace_binding.go,
    v1.99.0). The catalog's own Delete re-binds the current workspace before deleting (catalog/resource_catalog.go,
    v1.99.0), but the deletes of its schemas, volumes, models and grants do not: once the binding is gone they
    fail with "not accessible in current workspace" (provider issue 5300). So everything that needs the catalog
    must be destroyed before the binding, i.e. depend on it. (External locations and the storage credential are
    isolated too, but the provider binds them to the creating workspace itself, catalog/bindings, and the stack
    has no binding resource for them that a destroy could remove first.)"""
    for name, graph in _stacks(graphs, "-workspace"):
        bindings = graph.of_type("databricks_workspace_binding")
        assert bindings, name
        for binding in bindings:
            # Whatever the binding binds (a catalog today; external locations and credentials work the same).
            securables = [
                ref
                for ref in references({"name": binding.config.get("securable_name", "")})
                if ref.startswith(
                    ("databricks_catalog.", "databricks_external_location.", "databricks_storage_")
                )
            ]
            assert securables, f"{name}: {binding.address} binds no securable of this stack"
            for securable in securables:
                inside = [a for a in graph.dependents(securable) if a != binding.address]
                assert inside, f"{name}: nothing in {securable}?"
                outliving = [a for a in inside if not graph.depends(a, binding.address)]
                assert outliving == [], f"{name}: destroyed after the binding of {securable}: {outliving}"


def test_no_unity_catalog_object_names_its_catalog_without_depending_on_it(graphs):
    """A literal catalog name (a `/Volumes/<catalog>/...` path, a `catalog.schema.model` name) makes no graph
    edge: such an object could be created before, or destroyed after, the catalog and its binding."""
    for name, graph in _stacks(graphs, "-workspace"):
        for catalog in graph.of_type("databricks_catalog"):
            catalog_name = catalog.config["name"]
            for node in graph.nodes.values():
                if node.type in IN_CATALOG_TYPES and _mentions(node.config, f"/{catalog_name}/"):
                    assert graph.depends(node.address, catalog.address), f"{name}: {node.address}"
            for binding in graph.of_type("databricks_workspace_binding"):
                for node in graph.nodes.values():
                    if node.type in IN_CATALOG_TYPES and graph.depends(node.address, catalog.address):
                        assert graph.depends(node.address, binding.address), f"{name}: {node.address}"


def test_unity_catalog_objects_wait_for_the_metastore_assignment_when_there_is_one(graphs):
    for name, graph in _stacks(graphs, "-workspace"):
        for assignment in graph.of_type("databricks_metastore_assignment"):
            for rtype in ("databricks_storage_credential", "databricks_catalog"):
                for node in graph.of_type(rtype):
                    assert graph.depends(node.address, assignment.address), f"{name}: {node.address}"


def _groups_named(node) -> set[str]:
    """Groups a workspace ACL resource names: access_control blocks, a secret ACL principal, a dedicated owner."""
    if node.type == "databricks_permissions":
        return {a["group_name"] for a in _blocks(node.config.get("access_control")) if a.get("group_name")}
    if (
        node.type == "databricks_cluster"
        and node.config.get("data_security_mode") == "DATA_SECURITY_MODE_DEDICATED"
    ):
        return {node.config["single_user_name"]}
    if node.type == "databricks_secret_acl":
        return {node.config["principal"]}
    return set()


def test_workspace_acls_wait_for_their_groups_to_be_assigned_to_the_workspace(graphs, platform_config):
    """With identity federation an account group can be named in workspace ACLs only once it is assigned to the
    workspace (databricks_permission_assignment, access/resource_permission_assignment.go, v1.99.0)."""
    groups = {g for team in platform_config.teams for g in (*team.owner_groups, *team.reader_groups)}
    for name, graph in _stacks(graphs, "-workspace"):
        account = name.removesuffix("-workspace") + "-account"
        if account in graphs:
            _assigned_by_the_account_stack(graphs[account], graph, name, groups)
            continue
        assigned = {  # (the Security Analysis Tool's principal is assigned by service_principal_name)
            n.config["group_name"]: n.address
            for n in graph.of_type("databricks_permission_assignment")
            if "group_name" in n.config
        }
        checked = 0
        for node in graph.nodes.values():
            for group in _groups_named(node) & groups:
                checked += 1
                assert group in assigned, f"{name}: {group} is never assigned to the workspace"
                assert graph.depends(node.address, assigned[group]), f"{name}: {node.address} before {group}"
        assert checked, name


def _assigned_by_the_account_stack(
    account: StackGraph, workspace: StackGraph, name: str, groups: set[str]
) -> None:
    """AWS: the account stack (deployed before, destroyed after the workspace stack) assigns every group the
    workspace's ACLs name, with databricks_mws_permission_assignment; the workspace stack assigns none itself (two
    resources managing one assignment would overwrite and delete each other's)."""
    assert not [
        n for n in workspace.of_type("databricks_permission_assignment") if "group_name" in n.config
    ], name
    looked_up = {
        n.address: n.config["display_name"] for n in account.nodes.values() if n.type == "databricks_group"
    }
    assigned = {
        looked_up[ref]
        for n in account.of_type("databricks_mws_permission_assignment")
        for ref in references({"p": n.config["principal_id"]}) & looked_up.keys()
    }
    named = {g for node in workspace.nodes.values() for g in _groups_named(node) & groups}
    assert named and named <= assigned, (
        f"{name}: {sorted(named - assigned)} never assigned by the account stack"
    )


# ---- Azure network ----


def _subnets_of(graph: StackGraph, node) -> set[str]:
    return {ref for ref in references(node.config) if ref.startswith("azurerm_subnet.")}


def _associations_of(graph: StackGraph, subnet: str) -> list[str]:
    return [
        node.address
        for rtype in (
            "azurerm_subnet_network_security_group_association",
            "azurerm_subnet_nat_gateway_association",
            "azurerm_subnet_route_table_association",  # firewall egress (test_egress_azure.py)
        )
        for node in graph.of_type(rtype)
        if subnet in references(node.config)
    ]


def test_whatever_sits_in_a_subnet_comes_down_before_the_subnet(graphs):
    """Azure refuses to delete a subnet that still holds a private endpoint, a delegated workspace or an
    association (InUseSubnetCannotBeDeleted)."""
    for name, graph in _stacks(graphs, "-platform"):
        subnets = graph.of_type("azurerm_subnet")
        assert subnets, name
        for subnet in subnets:
            for node in graph.nodes.values():
                if node.address != subnet.address and _mentions(node.config, subnet.config["name"]):
                    # A literal subnet name makes no edge: it must still be ordered.
                    assert graph.depends(node.address, subnet.address), f"{name}: {node.address}"
        for node in graph.nodes.values():
            for subnet in _subnets_of(graph, node):
                assert graph.depends(node.address, subnet), f"{name}: {node.address} vs {subnet}"


def test_injected_workspace_comes_down_before_its_subnets_nsg_and_nat_associations(graphs):
    """A VNet-injected workspace puts a network intent policy on its two delegated subnets: while the
    workspace exists Azure refuses to change their NSG or NAT gateway association. Terraform must therefore
    destroy the workspace first, which holds when the workspace depends on every association of its subnets
    (the NSG association ids in its custom_parameters, the NAT gateway associations through depends_on)."""
    for name, graph in _stacks(graphs, "-platform"):
        for workspace in graph.of_type("azurerm_databricks_workspace"):
            subnets = _subnets_of(graph, workspace)
            assert len(subnets) == 2, f"{name}: {subnets}"
            for subnet in subnets:
                associations = _associations_of(graph, subnet)
                assert associations, f"{name}: {subnet} has no association"
                for association in associations:
                    assert graph.depends(workspace.address, association), f"{name}: {association}"


def test_private_endpoints_come_down_before_their_subnet_target_and_dns_zones(graphs):
    """Every private endpoint (the workspace's ui_api today, browser_authentication and storage ones later)
    is deleted before the subnet it sits in, the resource it connects to and the DNS zones it registers in."""
    checked = 0
    for name, graph in _stacks(graphs, "-platform"):
        for endpoint in graph.of_type("azurerm_private_endpoint"):
            checked += 1
            wanted = _subnets_of(graph, endpoint)
            assert wanted, f"{name}: {endpoint.address} names no subnet"
            for connection in _blocks(endpoint.config.get("private_service_connection")):
                wanted |= references({"target": connection.get("private_connection_resource_id", "")})
            for group in _blocks(endpoint.config.get("private_dns_zone_group")):
                wanted |= references(group)
            for dependency in wanted:
                assert graph.depends(endpoint.address, dependency), (
                    f"{name}: {endpoint.address} vs {dependency}"
                )
    assert checked, "no private endpoint in any committed stack (prod has a private front end)"


# ---- Across the two stacks of a team-env ----


def test_workspace_stack_reads_only_platform_outputs_that_exist_and_is_destroyed_first(
    graphs, platform_config, synthesized
):
    """The workspace stack's provider is configured from the platform stack's outputs (terraform_remote_state).
    A destroy must therefore run while the platform state still holds them: workspace stack first."""
    for team_env in (te for te in platform_config.team_envs if te.team.cloud == "azure"):
        names = team_env.names
        workspace, platform = graphs[names.workspace_stack], graphs[names.platform_stack]
        outputs = {a.removeprefix("output.") for a in platform.nodes if a.startswith("output.")}
        remote = [n for n in workspace.nodes.values() if n.type == "terraform_remote_state"]
        assert len(remote) == 1, names.workspace_stack
        read = {
            expression.split(".outputs.", 1)[1].split(".")[0].split("}")[0]
            for node in workspace.nodes.values()
            for expression in _expressions(node.config)
            if f"{remote[0].address}.outputs." in expression
        }
        assert read, names.workspace_stack
        assert read <= outputs, f"{names.workspace_stack} reads missing outputs {sorted(read - outputs)}"
        provider = workspace.nodes["provider.databricks"]
        assert workspace.depends(provider.address, remote[0].address)
        order = Rollout("destroy", team_env, synthesized.outdir, auto_approve=True).stacks
        assert order.index(names.workspace_stack) < order.index(names.platform_stack)


def _blocks(value: object) -> list[dict]:
    """A nested block as cdktf writes it: one object, or a list of objects."""
    if isinstance(value, dict):
        return [value]
    return [item for item in value or [] if isinstance(item, dict)]


def _expressions(config: object) -> list[str]:
    if isinstance(config, str):
        return [config]
    if isinstance(config, dict):
        return [e for k, v in config.items() if k != "//" for e in _expressions(v)]
    if isinstance(config, list):
        return [e for v in config for e in _expressions(v)]
    return []


# ---- Re-creating a destroyed env ----


def test_a_re_created_env_recovers_its_soft_deleted_vault(graphs):
    """azurerm v4.55.0 internal/services/keyvault/key_vault_resource.go (resourceKeyVaultCreate): before creating
    a vault the provider looks its name up among soft-deleted vaults; with the provider feature
    `recover_soft_deleted_key_vaults` it creates in `Recover` mode, without it the create fails. Vault names are
    derived from (prefix, team, env), so every re-created env meets its old vault: the feature must be on."""
    for name, graph in _stacks(graphs, "-platform"):
        features = _blocks(graph.nodes["provider.azurerm"].config.get("features"))
        key_vault = [kv for f in features for kv in _blocks(f.get("key_vault"))]
        assert key_vault and all(kv.get("recover_soft_deleted_key_vaults") is True for kv in key_vault), name


# ---- Azure customer-managed keys: first apply ----

# What calls Key Vault with a role granted in the same apply: the deployer creating the key, the storage
# service wrapping the lake's key, the AzureDatabricks app wrapping managed services at workspace creation,
# the DBFS root's storage wrapping its key.
KEY_USERS = (
    "azurerm_key_vault_key",
    "azurerm_storage_account_customer_managed_key",
    "azurerm_databricks_workspace",
    "azurerm_databricks_workspace_root_dbfs_customer_managed_key",
)


def _key_vault_grants(graph: StackGraph, address: str) -> list[str]:
    return [
        a
        for a in graph.ancestors(address)
        if graph.nodes[a].type == "azurerm_role_assignment"
        and str(graph.nodes[a].config.get("role_definition_name", "")).startswith("Key Vault Crypto")
    ]


def test_nothing_uses_a_key_vault_role_before_key_vault_honours_it(graphs):
    """azurerm v4.55.0 internal/services/authorization/role_assignment_resource.go (retryRoleAssignmentsClient)
    returns once ARM reads the assignment back; Key Vault's data plane authorizes from its own cache, which
    lags (Microsoft documents up to ten minutes), and internal/services/keyvault/key_vault_key_resource.go
    (resourceKeyVaultKeyCreate) does not retry a 403. So between each Key Vault role assignment and whatever
    relies on it there is a time_sleep (hashicorp/time) that follows that assignment: the provider's own pattern
    (examples/netapp/nfsv3_volume_cmk_cross_tenant/main.tf, v4.55.0). SRA (azure/tf/modules/hub/keyvault.tf)
    needs none because it uses vault access policies; our baseline is an RBAC vault (PLAT-KV-1)."""
    checked = 0
    for name, graph in _stacks(graphs, "-platform"):
        for rtype in KEY_USERS:
            for user in graph.of_type(rtype):
                for grant in _key_vault_grants(graph, user.address):
                    checked += 1
                    waits = [
                        a
                        for a in graph.ancestors(user.address)
                        if graph.nodes[a].type == "time_sleep" and graph.depends(a, grant)
                    ]
                    assert waits, f"{name}: {user.address} uses {grant} the moment it exists"
                    for wait in waits:
                        assert graph.nodes[wait].config["create_duration"] == "10m", wait
    assert checked >= 8, "the committed prod envs create keys: their users were not found"


def _peerings(graph: StackGraph) -> list[str]:
    return [n.address for n in graph.of_type("azurerm_virtual_network_peering")]


def test_a_created_key_waits_for_the_runners_path_to_its_private_vault(graphs):
    """The runner in the hub writes the key through the vault's private endpoint: it resolves the endpoint's A
    record (written by the endpoint's zone group) through the hub's zone, which the env links to its VNet, and
    reaches it over both halves of the peering. All of them exist before the key is created."""
    checked = 0
    for name, graph in _stacks(graphs, "-platform"):
        for key in graph.of_type("azurerm_key_vault_key"):
            vault = next(iter(references({"v": key.config["key_vault_id"]})))
            endpoints = [
                e.address
                for e in graph.of_type("azurerm_private_endpoint")
                if vault in references(e.config.get("private_service_connection", {}))
            ]
            links = [
                n.address
                for n in graph.of_type("azurerm_private_dns_zone_virtual_network_link")
                if "privatelink.vaultcore.azure.net" in str(n.config["private_dns_zone_name"])
            ]
            peerings = _peerings(graph)
            assert endpoints and links and len(peerings) == 2, name
            for needed in (*endpoints, *links, *peerings):
                checked += 1
                assert graph.depends(key.address, needed), f"{name}: the key before {needed}"
    assert checked, "no created key behind a private vault in the committed config"


def test_the_dbfs_key_update_waits_for_the_workspaces_private_endpoints(graphs):
    """azurerm_databricks_workspace_root_dbfs_customer_managed_key updates the workspace itself (a PUT of the
    workspace, azurerm v4.55.0 databricks_workspace_root_dbfs_customer_managed_key_resource.go); the workspace's
    private endpoints change the same workspace's connections. One after the other."""
    checked = 0
    for name, graph in _stacks(graphs, "-platform"):
        for dbfs in graph.of_type("azurerm_databricks_workspace_root_dbfs_customer_managed_key"):
            workspace = next(iter(references({"w": dbfs.config["workspace_id"]})))
            for endpoint in graph.of_type("azurerm_private_endpoint"):
                if workspace in references(endpoint.config.get("private_service_connection", {})):
                    checked += 1
                    assert graph.depends(dbfs.address, endpoint.address), f"{name}: {endpoint.address}"
    assert checked, "no private CMK workspace in the committed config"
