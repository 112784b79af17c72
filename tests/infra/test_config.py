"""The config model: the committed example is valid, and every kind of bad config is named precisely."""

import copy
from pathlib import Path

import pytest
import yaml

from infra.config import ConfigError, parse_config
from infra.config.environment import ENV_DEFAULTS
from infra.config.model import PlatformConfig

ROOT = Path(__file__).resolve().parents[2]
BASE: dict = yaml.safe_load((ROOT / "platform.yaml").read_text())


def mutated(path: str, value=None, *, delete: bool = False) -> dict:
    """A copy of the committed config with one value at a dotted path (list indexes as numbers) changed."""
    config = copy.deepcopy(BASE)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    target = config
    for part in parents:
        target = target[part]
    if delete:
        del target[last]
    else:
        target[last] = value
    return config


def legacy_model_name(value: object) -> dict:
    """The committed config with team churn written the old way: `model_name` instead of `workloads`."""
    config = mutated("teams.0.model_name", value)
    del config["teams"][0]["workloads"]
    return config


def problems_of(config: dict | str) -> list[str]:
    text = config if isinstance(config, str) else yaml.safe_dump(config, sort_keys=False)
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="platform.yaml")
    return caught.value.lines()


def test_committed_example_is_valid_and_has_the_promised_shape():
    config = parse_config((ROOT / "platform.yaml").read_text())
    assert isinstance(config, PlatformConfig)
    assert len(config.teams) >= 2 and "churn" in [t.name for t in config.teams]
    for team in config.teams:
        assert set(team.environments) == {"dev", "staging", "prod"}
        assert team.ephemeral is not None


def test_env_kind_defaults_apply_under_explicit_values():
    config = parse_config((ROOT / "platform.yaml").read_text())
    churn = config.team("churn")
    assert churn.environments["dev"].schedules.paused is True
    assert churn.environments["dev"].interactive_cluster is True
    assert churn.environments["prod"].prevent_destroy is True
    assert churn.environments["prod"].interactive_cluster is False
    assert churn.environments["prod"].compute.spot is False
    # explicit values win over the kind defaults
    assert churn.environments["prod"].compute.node_type == "Standard_D8ds_v5"
    assert churn.environments["staging"].schedules.timezone == "Europe/Amsterdam"
    assert churn.environments["staging"].schedules.paused is ENV_DEFAULTS["staging"].get("schedules", {}).get(
        "paused", False
    )


def test_derived_names_obey_azure_rules_and_are_stable():
    config = parse_config((ROOT / "platform.yaml").read_text())
    names = [te.names for te in config.team_envs]
    for n in names:
        assert n.problems() == []
        assert (
            3 <= len(n.storage_account) <= 24 and n.storage_account.isalnum() and n.storage_account.islower()
        )
        assert 3 <= len(n.key_vault) <= 24
    assert len({n.storage_account for n in names}) == len(names)
    assert len({n.key_vault for n in names}) == len(names)
    again = parse_config((ROOT / "platform.yaml").read_text())
    assert [te.names for te in again.team_envs] == names


def test_long_team_and_env_names_are_shortened_with_a_hash_not_rejected():
    from infra.config.naming import env_names

    a = env_names(prefix="abcdef", team="abcdefghijkl", env="staging")
    b = env_names(prefix="abcdef", team="abcdefghijkm", env="staging")
    assert a.problems() == [] and b.problems() == []
    assert len(a.storage_account) <= 24 and len(a.key_vault) <= 24
    assert a.storage_account != b.storage_account and a.key_vault != b.key_vault


def test_aws_team_gets_ec2_node_types_where_it_sets_none_and_keeps_explicit_ones():
    risk = parse_config((ROOT / "platform.yaml").read_text()).team("risk")
    assert risk.cloud == "aws" and risk.aws.account_id == "123456789012"
    assert risk.environments["dev"].compute.node_type == "m6id.xlarge"
    assert risk.environments["prod"].compute.node_type == "r6id.2xlarge"
    assert risk.ephemeral.compute.node_type == "m6id.large" and risk.ephemeral.compute.max_workers == 1
    # the env kind defaults still apply under the cloud's node type
    assert risk.environments["dev"].compute.spot is True and risk.environments["prod"].compute.spot is False


def test_subnets_are_carved_from_the_env_network():
    config = parse_config((ROOT / "platform.yaml").read_text())
    dev = next(te for te in config.team_envs if te.key == "churn/dev")
    assert (dev.host_subnet_cidr, dev.container_subnet_cidr) == ("10.10.0.0/24", "10.10.1.0/24")


# (case id, mutated config, expected field path, expected words in the message)
BAD_CONFIGS = [
    ("unknown-top-key", mutated("teamz", []), "teamz", "unknown key"),
    ("typo-platform-key", mutated("platform.prefx", "dbp"), "platform.prefx", "did you mean 'prefix'"),
    (
        "typo-team-key",
        mutated("teams.0.cost_centre", "x"),
        "teams.churn.cost_centre",
        "did you mean 'cost_center'",
    ),
    (
        "typo-compute-key",
        mutated("teams.0.environments.dev.compute.max_worker", 3),
        "teams.churn.environments.dev.compute.max_worker",
        "did you mean 'max_workers'",
    ),
    ("missing-platform", mutated("platform", delete=True), "platform", "required key is missing"),
    ("missing-teams", mutated("teams", delete=True), "teams", "required key is missing"),
    ("no-teams", mutated("teams", []), "teams", "at least 1"),
    ("prefix-uppercase", mutated("platform.prefix", "DBP"), "platform.prefix", "lowercase"),
    ("prefix-too-long", mutated("platform.prefix", "platform"), "platform.prefix", "2-6"),
    (
        "missing-deployer",
        mutated("platform.deployer_principal", delete=True),
        "platform.deployer_principal",
        "required",
    ),
    (
        "bad-subscription",
        mutated("platform.subscription_id", "my-subscription"),
        "platform.subscription_id",
        "UUID",
    ),
    ("bad-runtime", mutated("platform.runtime", "16.4"), "platform.runtime", "'16.4' is not allowed"),
    # 18.0.x-cpu-ml-scala2.13 is the 18.0 Beta, out of support: 18 LTS ML is the umbrella key 18.x
    ("beta-runtime", mutated("platform.runtime", "18.0"), "platform.runtime", "use '18' for 18 LTS ML"),
    (
        "budget-start-mid-month",
        mutated("platform.budget_start", "2026-11-15"),
        "platform.budget_start",
        "first day of a month",
    ),
    (
        "s3-backend-incomplete",
        mutated("platform.state_backend", {"kind": "s3", "bucket": "tfstate"}),
        "platform.state_backend",
        "s3 state backend needs region",
    ),
    ("retention-too-short", mutated("platform.log_retention_days", 7), "platform.log_retention_days", "30"),
    (
        "azurerm-backend-incomplete",
        mutated("platform.state_backend", {"kind": "azurerm"}),
        "platform.state_backend",
        "resource_group_name, storage_account_name",
    ),
    (
        "bad-backend-kind",
        mutated("platform.state_backend.kind", "gcs"),
        "platform.state_backend.kind",
        "'gcs' is not allowed",
    ),
    ("team-name-uppercase", mutated("teams.0.name", "Churn"), "teams.Churn.name", "lowercase"),
    (
        "team-name-hyphen",
        mutated("teams.0.name", "churn-ml"),
        "teams.churn-ml.name",
        "lowercase letters or digits",
    ),
    ("duplicate-team", mutated("teams.1.name", "churn"), "teams[1].name", "already used by teams[0]"),
    (
        "bad-region",
        mutated("teams.0.region", "westeuropa"),
        "teams.churn.region",
        "did you mean 'westeurope'",
    ),
    (
        "bad-email",
        mutated("teams.0.notification_emails", ["not-an-email"]),
        "teams.churn.notification_emails[0]",
        "email",
    ),
    (
        "no-notification-emails",
        mutated("teams.0.notification_emails", []),
        "teams.churn.notification_emails",
        "at least 1",
    ),
    ("no-owner-groups", mutated("teams.0.owner_groups", []), "teams.churn.owner_groups", "at least 1"),
    (
        "group-owner-and-reader",
        mutated("teams.0.reader_groups", ["churn-owners"]),
        "teams.churn",
        "both owners and readers",
    ),
    (
        "unknown-env",
        mutated("teams.0.environments.qa", {"network": "10.99.0.0/22", "budget": {"amount": 1}}),
        "teams.churn.environments.qa",
        "'qa'",
    ),
    ("no-envs", mutated("teams.0.environments", {}), "teams.churn.environments", "at least one"),
    (
        "missing-network",
        mutated("teams.0.environments.dev.network", delete=True),
        "teams.churn.environments.dev.network",
        "required",
    ),
    (
        "network-not-cidr",
        mutated("teams.0.environments.dev.network", "10.10.0.0"),
        "teams.churn.environments.dev.network",
        "between /16 and /24",
    ),
    (
        "network-host-bits",
        mutated("teams.0.environments.dev.network", "10.10.0.1/22"),
        "teams.churn.environments.dev.network",
        "not a CIDR network",
    ),
    (
        "network-public",
        mutated("teams.0.environments.dev.network", "8.8.0.0/22"),
        "teams.churn.environments.dev.network",
        "private IPv4",
    ),
    (
        "network-too-small",
        mutated("teams.0.environments.dev.network", "10.10.0.0/26"),
        "teams.churn.environments.dev.network",
        "between /16 and /24",
    ),
    (
        "networks-overlap",
        mutated("teams.1.environments.dev.network", "10.10.2.0/24"),
        "teams.pricing.environments.dev.network",
        "overlaps 10.10.0.0/22 of teams.churn.environments.dev.network",
    ),
    (
        "ephemeral-pool-overlaps",
        mutated("teams.0.ephemeral.network_pool", "10.10.0.0/18"),
        "teams.churn.ephemeral.network_pool",
        "overlaps",
    ),
    (
        "min-above-max-workers",
        mutated("teams.0.environments.dev.compute", {"min_workers": 5, "max_workers": 2}),
        "teams.churn.environments.dev.compute",
        "min_workers (5) must not exceed max_workers (2)",
    ),
    (
        "negative-workers",
        mutated("teams.0.environments.dev.compute.max_workers", -1),
        "teams.churn.environments.dev.compute.max_workers",
        "greater than or equal to 1",
    ),
    (
        "bad-node-type",
        mutated("teams.0.environments.dev.compute.node_type", "m5.large"),
        "teams.churn.environments.dev.compute.node_type",
        "Azure VM size",
    ),
    (
        "autotermination-too-short",
        mutated("teams.0.environments.dev.compute.autotermination_minutes", 0),
        "teams.churn.environments.dev.compute.autotermination_minutes",
        "greater than or equal to 10",
    ),
    (
        "quarantine-ceiling-above-one",
        mutated("teams.0.environments.prod.data_quality", {"max_quarantined_share": 1.5}),
        "teams.churn.environments.prod.data_quality.max_quarantined_share",
        "less than or equal to 1",
    ),
    (
        "spot-not-bool",
        mutated("teams.0.environments.dev.compute.spot", "sometimes"),
        "teams.churn.environments.dev.compute.spot",
        "boolean",
    ),
    (
        "unix-cron",
        mutated("teams.0.environments.prod.schedules.training", "0 2 * * 0"),
        "teams.churn.environments.prod.schedules.training",
        "5 fields is Unix cron syntax",
    ),
    (
        "cron-hour-out-of-range",
        mutated("teams.0.environments.prod.schedules.scoring", "0 0 25 * * ?"),
        "teams.churn.environments.prod.schedules.scoring",
        "hours '25' is outside 0-23",
    ),
    (
        "cron-no-question-mark",
        mutated("teams.0.environments.prod.schedules.monitoring", "0 0 6 * * MON"),
        "teams.churn.environments.prod.schedules.monitoring",
        "exactly one of day-of-month and day-of-week",
    ),
    (
        "bad-timezone",
        mutated("teams.0.environments.prod.schedules.timezone", "Europe/Amsterdm"),
        "teams.churn.environments.prod.schedules.timezone",
        "IANA time zone",
    ),
    (
        "budget-zero",
        mutated("teams.0.environments.dev.budget.amount", 0),
        "teams.churn.environments.dev.budget.amount",
        "greater than 0",
    ),
    (
        "budget-duplicate-thresholds",
        mutated("teams.0.environments.dev.budget.alert_thresholds", [80, 80]),
        "teams.churn.environments.dev.budget.alert_thresholds",
        "distinct",
    ),
    (
        "missing-budget",
        mutated("teams.0.environments.dev.budget", delete=True),
        "teams.churn.environments.dev.budget",
        "required",
    ),
    ("bad-model-name", legacy_model_name("Churn Model"), "teams.churn.model_name", "invalid"),
    (
        "ephemeral-ttl-too-long",
        mutated("teams.0.ephemeral.default_ttl_hours", 1000),
        "teams.churn.ephemeral.default_ttl_hours",
        "168",
    ),
    ("cost-center-empty", mutated("teams.0.cost_center", ""), "teams.churn.cost_center", "invalid"),
    # cross-cloud mistakes (teams.risk is the AWS team of the committed config)
    (
        "aws-team-azure-region",
        mutated("teams.2.region", "westeurope"),
        "teams.risk.region",
        "is an Azure region",
    ),
    (
        "azure-team-aws-region",
        mutated("teams.0.region", "eu-west-1"),
        "teams.churn.region",
        "is an AWS region",
    ),
    ("aws-unknown-region", mutated("teams.2.region", "eu-west-9"), "teams.risk.region", "not an AWS region"),
    (
        "aws-team-azure-vm-size",
        mutated("teams.2.environments.dev.compute", {"node_type": "Standard_D4ds_v5"}),
        "teams.risk.environments.dev.compute.node_type",
        "is an Azure VM size",
    ),
    (
        "azure-team-ec2-type",
        mutated("teams.0.environments.dev.compute.node_type", "m6id.xlarge"),
        "teams.churn.environments.dev.compute.node_type",
        "is an EC2 instance type",
    ),
    ("aws-team-without-aws", mutated("teams.2.aws", delete=True), "teams.risk.aws", "needs aws.account_id"),
    (
        "azure-team-with-aws",
        mutated("teams.0.aws", {"account_id": "123456789012"}),
        "teams.churn.aws",
        "cloud: azure",
    ),
    ("aws-bad-account", mutated("teams.2.aws.account_id", "12345"), "teams.risk.aws.account_id", "invalid"),
    (
        "aws-typo",
        mutated("teams.2.aws.acount_id", "1"),
        "teams.risk.aws.acount_id",
        "did you mean 'account_id'",
    ),
    ("unknown-cloud", mutated("teams.2.cloud", "gcp"), "teams.risk.cloud", "'gcp' is not allowed"),
    (
        "aws-without-databricks-account",
        mutated("platform.account_id", delete=True),
        "platform.account_id",
        "external ID of the cross-account role",
    ),
]


@pytest.mark.parametrize(
    ("config", "path", "words"), [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS]
)
def test_bad_config_names_the_field_and_the_problem(config, path, words):
    assert_problem_at(config, path, words)


def assert_problem_at(config: dict, path: str, words: str) -> None:
    lines = problems_of(config)
    matching = [line for line in lines if line.startswith(f"platform.yaml: {path}")]
    assert matching, f"no problem reported at {path}: {lines}"
    assert any(words.lower() in line.lower() for line in matching), lines


def test_there_are_at_least_thirty_distinct_bad_config_cases():
    assert len({case[0] for case in BAD_CONFIGS}) >= 30


def test_every_problem_is_reported_not_just_the_first():
    config = mutated("platform.prefix", "BAD")
    config["teams"][0]["region"] = "mars"
    config["teams"][1]["cost_center"] = ""
    lines = problems_of(config)
    assert len(lines) == 3 and all("\n" not in line for line in lines)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("platform: [unclosed", "invalid YAML"),
        ("- just\n- a list\n", "must be a YAML mapping"),
        ("", "must be a YAML mapping"),
        ("platform:\n  prefix: a1\nplatform:\n  prefix: b2\n", "duplicate key 'platform'"),
    ],
    ids=["syntax-error", "not-a-mapping", "empty-file", "duplicate-key"],
)
def test_unreadable_yaml_is_one_line_with_location(text, words):
    lines = problems_of(text)
    assert len(lines) == 1 and words in lines[0]


@pytest.mark.parametrize(
    ("written", "key"),
    [("18", "18.x-cpu-ml-scala2.13"), (18, "18.x-cpu-ml-scala2.13"), (17.3, "17.3.x-cpu-ml-scala2.13")],
)
def test_runtimes_map_to_lts_ml_keys_that_exist(written, key):
    """18 LTS ML is the umbrella line `18.x-cpu-ml-scala2.13`, 17.3 LTS ML `17.3.x-cpu-ml-scala2.13`; the
    `18.0.x` key was the 18.0 Beta. YAML reads an unquoted 17.3 as a number: it means the same runtime."""
    config = parse_config(yaml.safe_dump(mutated("platform.runtime", written)))
    assert config.platform.spark_version == key


KEY_VAULT = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-keys/providers/Microsoft.KeyVault/vaults/kv-keys"
KEY_ID = "https://kv-keys.vault.azure.net/keys/cmk/0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("config", "path", "words"),
    [
        (
            mutated("platform.azure_databricks_sp_object_id", delete=True),
            "teams.churn.environments.prod.customer_managed_key",
            "needs platform.azure_databricks_sp_object_id",
        ),
        (
            mutated("teams.0.environments.prod.network_isolation", "service_endpoints"),
            "teams.churn.environments.prod.customer_managed_key",
            "needs network_isolation: private",
        ),
        (
            mutated("teams.0.environments.prod.customer_managed_key", {"existing_key_id": KEY_ID}),
            "teams.churn.environments.prod.customer_managed_key",
            "set together",
        ),
        (
            mutated(
                "teams.0.environments.prod.customer_managed_key",
                {
                    "existing_key_id": KEY_ID.replace("kv-keys", "kv-other"),
                    "existing_key_vault_id": KEY_VAULT,
                },
            ),
            "teams.churn.environments.prod.customer_managed_key",
            "not in existing_key_vault_id's vault",
        ),
        (
            # azurerm 4.55.0 parses the workspace's CMK IDs with ParseNestedItemID, which requires a version
            mutated(
                "teams.0.environments.prod.customer_managed_key",
                {"existing_key_id": KEY_ID.rsplit("/", 1)[0], "existing_key_vault_id": KEY_VAULT},
            ),
            "teams.churn.environments.prod.customer_managed_key.existing_key_id",
            "versioned id",
        ),
        (
            mutated("teams.0.environments.prod.network_isolation", "vnet"),
            "teams.churn.environments.prod.network_isolation",
            "'service_endpoints' or 'private'",
        ),
    ],
)
def test_bad_isolation_or_key_config_names_the_field(config, path, words):
    assert_problem_at(config, path, words)


def test_prod_is_private_with_a_key_by_default_and_dev_stays_cheap():
    config = parse_config((ROOT / "platform.yaml").read_text())
    for team in (t for t in config.teams if t.cloud == "azure"):
        assert team.environments["prod"].network_isolation == "private"
        assert team.environments["prod"].customer_managed_key is not None
        for env in ("dev", "staging"):
            assert team.environments[env].network_isolation == "service_endpoints"
            assert team.environments[env].customer_managed_key is None
    # an existing key (with private isolation not required: the stack creates nothing in a vault) or none at all
    existing = mutated(
        "teams.0.environments.prod",
        BASE["teams"][0]["environments"]["prod"]
        | {
            "network_isolation": "service_endpoints",
            "customer_managed_key": {"existing_key_id": KEY_ID, "existing_key_vault_id": KEY_VAULT},
        },
    )
    churn_prod = parse_config(yaml.safe_dump(existing)).team("churn").environments["prod"]
    assert churn_prod.customer_managed_key.existing_key_name == "cmk"
    off = mutated("teams.0.environments.prod.customer_managed_key", None)
    assert parse_config(yaml.safe_dump(off)).team("churn").environments["prod"].customer_managed_key is None


def test_aws_teams_get_no_azure_only_prod_defaults():
    """Private endpoints and Key Vault keys are Azure constructs: an AWS team's prod does not inherit them (and so
    needs no private-link runner for them)."""
    config = parse_config((ROOT / "platform.yaml").read_text())
    (aws,) = (t for t in config.teams if t.cloud == "aws")
    assert aws.environments["prod"].network_isolation == "service_endpoints"
    assert aws.environments["prod"].customer_managed_key is None
