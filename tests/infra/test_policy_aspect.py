"""The security baseline aspect: every rule fails synth on a violating resource, passes a compliant one, and
honours only suppressions that carry a reason."""

import pytest
from cdktf import App, Aspects, TerraformResourceLifecycle, TerraformStack

from infra.aspects.security import RULES, SecurityBaselineAspect, all_suppressions, suppress
from infra.config import TeamEnv


def _storage(scope, **overrides):
    from cdktf_cdktf_provider_azurerm.storage_account import (
        StorageAccount,
        StorageAccountNetworkRulesPrivateLinkAccess,
    )

    props = dict(
        name="stcompliant",
        resource_group_name="rg",
        location="westeurope",
        account_tier="Standard",
        account_replication_type="ZRS",
        account_kind="StorageV2",
        is_hns_enabled=True,
        min_tls_version="TLS1_2",
        https_traffic_only_enabled=True,
        allow_nested_items_to_be_public=False,
        shared_access_key_enabled=False,
        infrastructure_encryption_enabled=True,
        network_rules={
            "default_action": "Deny",
            "private_link_access": [StorageAccountNetworkRulesPrivateLinkAccess(endpoint_resource_id="/ac")],
        },
        blob_properties={
            "delete_retention_policy": {"days": 7},
            "container_delete_retention_policy": {"days": 7},
        },
    )
    props.update(overrides)
    return StorageAccount(scope, "storage", **props)


def _key_vault(scope, **overrides):
    from cdktf_cdktf_provider_azurerm.key_vault import KeyVault

    props = dict(
        name="kv-compliant",
        resource_group_name="rg",
        location="westeurope",
        tenant_id="00000000-0000-0000-0000-000000000000",
        sku_name="standard",
        rbac_authorization_enabled=True,
        purge_protection_enabled=True,
        network_acls={"default_action": "Deny", "bypass": "AzureServices"},
    )
    props.update(overrides)
    return KeyVault(scope, "vault", **props)


def _workspace(scope, **custom):
    from cdktf_cdktf_provider_azurerm.databricks_workspace import DatabricksWorkspace

    params = dict(
        no_public_ip=True,
        virtual_network_id="/vnet",
        public_subnet_name="host",
        private_subnet_name="container",
        public_subnet_network_security_group_association_id="/host-assoc",
        private_subnet_network_security_group_association_id="/container-assoc",
    )
    params.update(custom)
    sku = params.pop("sku", "premium")
    return DatabricksWorkspace(
        scope,
        "workspace",
        name="dbw",
        resource_group_name="rg",
        location="westeurope",
        sku=sku,
        custom_parameters=params,
    )


def _job(scope, *, run_as=True, policy=True):
    from cdktf_cdktf_provider_databricks.job import Job, JobJobCluster, JobJobClusterNewCluster

    cluster = JobJobClusterNewCluster(
        spark_version="18.0.x-cpu-ml-scala2.13", num_workers=1, policy_id="policy-1" if policy else None
    )
    return Job(
        scope,
        "job",
        name="train",
        run_as={"service_principal_name": "app-id"} if run_as else None,
        job_cluster=[JobJobCluster(job_cluster_key="main", new_cluster=cluster)],
    )


def _cluster(scope, *, policy=True):
    from cdktf_cdktf_provider_databricks.cluster import Cluster

    return Cluster(
        scope, "cluster", spark_version="18.0.x-cpu-ml-scala2.13", policy_id="p" if policy else None
    )


def _token(scope):
    from cdktf_cdktf_provider_databricks.token import Token

    return Token(scope, "pat", comment="nope")


def _catalog(scope, *, prevent_destroy):
    from cdktf_cdktf_provider_databricks.catalog import Catalog

    lifecycle = TerraformResourceLifecycle(prevent_destroy=True) if prevent_destroy else None
    return Catalog(scope, "catalog", name="c", lifecycle=lifecycle)


def _synth(team_env: TeamEnv, build, tmp_path):
    app = App(outdir=str(tmp_path))
    stack = TerraformStack(app, "policy-under-test")
    from cdktf_cdktf_provider_azurerm.provider import AzurermProvider
    from cdktf_cdktf_provider_databricks.provider import DatabricksProvider

    AzurermProvider(stack, "azurerm", features=[{}])
    DatabricksProvider(stack, "databricks")
    build(stack)
    Aspects.of(stack).add(SecurityBaselineAspect(team_env=team_env))
    app.synth()
    return app


@pytest.fixture(scope="module")
def dev(platform_config) -> TeamEnv:
    return next(te for te in platform_config.team_envs if te.key == "churn/dev")


@pytest.fixture(scope="module")
def prod(platform_config) -> TeamEnv:
    return next(te for te in platform_config.team_envs if te.key == "churn/prod")


@pytest.fixture(scope="module")
def ephemeral(dev) -> TeamEnv:
    return dev.model_copy(update={"env": "pr42", "kind": "ephemeral", "base_env": "dev"})


# rule id -> builder of a resource that violates exactly that rule (in the dev env)
VIOLATIONS = {
    "PLAT-WS-1": lambda s: _workspace(s, sku="standard"),
    "PLAT-WS-2": lambda s: _workspace(s, private_subnet_network_security_group_association_id=None),
    "PLAT-WS-3": lambda s: _workspace(s, no_public_ip=False),
    "PLAT-ST-1": lambda s: _storage(s, is_hns_enabled=False),
    "PLAT-ST-2": lambda s: _storage(s, min_tls_version="TLS1_0"),
    "PLAT-ST-3": lambda s: _storage(s, https_traffic_only_enabled=False),
    "PLAT-ST-4": lambda s: _storage(s, allow_nested_items_to_be_public=True),
    "PLAT-ST-5": lambda s: _storage(s, shared_access_key_enabled=True),
    "PLAT-ST-6": lambda s: _storage(s, network_rules={"default_action": "Allow"}),
    "PLAT-ST-7": lambda s: _storage(s, infrastructure_encryption_enabled=False),
    "PLAT-ST-8": lambda s: _storage(s, blob_properties={"delete_retention_policy": {"days": 7}}),
    "PLAT-KV-1": lambda s: _key_vault(s, rbac_authorization_enabled=False),
    "PLAT-KV-2": lambda s: _key_vault(s, purge_protection_enabled=False),
    "PLAT-KV-3": lambda s: _key_vault(s, network_acls={"default_action": "Allow", "bypass": "AzureServices"}),
    "PLAT-DATA-1": lambda s: _catalog(s, prevent_destroy=True),
    "PLAT-DBX-1": _token,
    "PLAT-DBX-2": lambda s: _job(s, run_as=False),
    "PLAT-DBX-3": lambda s: _job(s, policy=False),
    "PLAT-DBX-4": lambda s: _cluster(s, policy=False),
}


def test_every_rule_has_a_violation_case():
    assert set(VIOLATIONS) == {rule.id for rule in RULES}


@pytest.mark.parametrize("rule_id", sorted(VIOLATIONS))
def test_violation_fails_synth_with_the_rule_id(rule_id, dev, tmp_path):
    with pytest.raises(RuntimeError, match=rule_id) as failed:
        _synth(dev, VIOLATIONS[rule_id], tmp_path)
    other_rules = [r.id for r in RULES if r.id != rule_id and f"{r.id}:" in str(failed.value)]
    assert other_rules == [], "the violating resource should break only its own rule"


def test_compliant_resources_synthesize(dev, tmp_path):
    def build(stack):
        _storage(stack)
        _key_vault(stack)
        _workspace(stack)
        _job(stack)
        _cluster(stack)
        _catalog(stack, prevent_destroy=False)

    _synth(dev, build, tmp_path)
    assert (tmp_path / "stacks" / "policy-under-test" / "cdk.tf.json").exists()


def test_prod_data_must_be_protected_and_ephemeral_data_must_not_be(prod, ephemeral, tmp_path):
    with pytest.raises(RuntimeError, match="PLAT-DATA-1: data resource of an env with prevent_destroy"):
        _synth(prod, lambda s: _catalog(s, prevent_destroy=False), tmp_path / "prod")
    _synth(prod, lambda s: _catalog(s, prevent_destroy=True), tmp_path / "prod-ok")
    with pytest.raises(RuntimeError, match="PLAT-KV-2: purge protection must be off in ephemeral envs"):
        _synth(ephemeral, _key_vault, tmp_path / "ephemeral")


def test_suppression_with_a_reason_lets_synth_pass_and_is_listed(dev, tmp_path):
    reason = "Dev sandbox key vault is reached from a build agent without a fixed IP"

    def build(stack):
        vault = _key_vault(stack, network_acls={"default_action": "Allow", "bypass": "AzureServices"})
        suppress(vault, rule_id="PLAT-KV-3", reason=reason)

    app = _synth(dev, build, tmp_path)
    listed = all_suppressions(app)
    assert [(s.rule_id, s.reason) for s in listed] == [("PLAT-KV-3", reason)]
    assert listed[0].path.endswith("/vault")


def test_suppression_of_one_rule_does_not_hide_another(dev, tmp_path):
    def build(stack):
        vault = _key_vault(
            stack,
            rbac_authorization_enabled=False,
            network_acls={"default_action": "Allow", "bypass": "None"},
        )
        suppress(vault, rule_id="PLAT-KV-3", reason="Temporarily open while migrating the build agents")

    with pytest.raises(RuntimeError, match="PLAT-KV-1"):
        _synth(dev, build, tmp_path)


@pytest.mark.parametrize(
    ("rule_id", "reason", "message"),
    [
        ("PLAT-KV-3", "", "needs a reason"),
        ("PLAT-KV-3", "because", "needs a reason"),
        ("NOPE-1", "x" * 40, "unknown"),
    ],
)
def test_suppression_without_reason_or_known_rule_is_refused(rule_id, reason, message, tmp_path):
    app = App(outdir=str(tmp_path))
    stack = TerraformStack(app, "s")
    with pytest.raises(ValueError, match=message):
        suppress(stack, rule_id=rule_id, reason=reason)
