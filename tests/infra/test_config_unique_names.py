"""Globally unique names (storage accounts, Key Vaults, S3 buckets, state storage): derived with enough hash to
stay apart, checked against each cloud's rules, and checked for collisions across the whole config and against
the live ephemeral envs when `env up` creates one."""

from datetime import UTC, datetime

import pytest
import yaml

from infra.config import parse_config
from infra.config.model import TeamEnv
from infra.config.naming import aws_tag_value_problem, env_names, s3_bucket_problem
from infra.config.unique_names import EnvIdentity, ephemeral_name_collisions
from infra.lifecycle.ephemeral import cut
from tests.infra.test_config import BASE, assert_problem_at, mutated


# Each pair got the same name from the previous derivation (16 readable characters, then 6 hash characters for
# storage and 4 for Key Vaults): found by brute force over names that share their first 16 compact characters.
@pytest.mark.parametrize(
    ("prefix", "team_env_a", "team_env_b", "kind"),
    [
        (
            "dbp",
            ("churn", "pr12345af1"),
            ("churn", "pr12345agb"),
            "key_vault",
        ),  # ephemeral names differing late
        ("dbp", ("analyticsabc", "pr1234abnj"), ("analyticsabc", "pr1234acox"), "storage_account"),
        (
            "abcdef",
            ("marketingxab", "dev"),
            ("marketingxct", "dev"),
            "key_vault",
        ),  # teams sharing a long prefix
    ],
)
def test_identities_that_share_their_readable_part_get_different_global_names(
    prefix, team_env_a, team_env_b, kind
):
    a = env_names(prefix=prefix, team=team_env_a[0], env=team_env_a[1])
    b = env_names(prefix=prefix, team=team_env_b[0], env=team_env_b[1])
    assert a.problems() == [] and b.problems() == []
    assert getattr(a, kind) != getattr(b, kind)
    assert a.storage_account != b.storage_account and a.key_vault != b.key_vault


def test_global_names_carry_at_least_44_bits_of_hash_and_keep_the_cloud_rules():
    names = env_names(prefix="abcdef", team="abcdefghijkl", env="abcdefghij")
    assert names.problems() == []
    # readable: the start of prefix+team, then the env's first 3 characters; the rest is hex hash
    assert names.storage_account.startswith("stabcdefaabc") and len(names.storage_account) == 24
    assert len(names.storage_account.removeprefix("stabcdefaabc")) * 4 >= 48
    assert names.key_vault.startswith("kv-abcdefabc-") and len(names.key_vault) == 24
    assert len(names.key_vault.removeprefix("kv-abcdefabc-")) * 4 >= 44


def same_hash(monkeypatch):
    """A derivation whose hash part is one constant: every identity that shares its readable part collides."""
    import infra.config.aws_names as aws_names
    import infra.config.naming as naming

    monkeypatch.setattr(naming, "stable_hash", lambda *parts, length=6: "0" * length)
    monkeypatch.setattr(aws_names, "stable_hash", lambda *parts, length=6: "0" * length)


def test_validate_refuses_two_envs_that_derive_the_same_global_name(monkeypatch):
    same_hash(monkeypatch)
    config = mutated("platform.prefix", "abcdef")
    config["teams"][0]["name"] = "marketingxab"
    config["teams"][1]["name"] = "marketingxct"
    assert_problem_at(
        config,
        "teams.marketingxct.environments.dev",
        "derived azure storage account name 'stabcdefmdev000000000000' is already "
        "teams.marketingxab.environments.dev's",
    )


@pytest.mark.parametrize(
    ("backend", "path", "words"),
    [
        # the state account is also churn/dev's lake account: the env's apply would fail or adopt the state
        (
            {"kind": "azurerm", "resource_group_name": "rg-state", "storage_account_name": "@churn-dev"},
            "teams.churn.environments.dev",
            "is already platform.state_backend.storage_account_name's",
        ),
        (
            {"kind": "s3", "bucket": "@risk-dev-root", "region": "eu-west-1"},
            "teams.risk.environments.dev",
            "is already platform.state_backend.bucket's",
        ),
    ],
)
def test_validate_refuses_state_storage_that_an_env_derives(backend, path, words):
    config = parse_config(yaml.safe_dump(BASE))
    derived = {te.key: te for te in config.team_envs}
    if "storage_account_name" in backend:
        backend["storage_account_name"] = derived["churn/dev"].names.storage_account
    else:
        from infra.config.aws_names import aws_names

        backend["bucket"] = aws_names(derived["risk/dev"]).root_bucket
    assert_problem_at(mutated("platform.state_backend", backend), path, words)


def test_validate_refuses_a_prefix_that_makes_s3_bucket_names_reserved():
    """S3 reserves `sthree-` for its own use: an AWS team under prefix `sthree` would plan, then fail at create."""
    assert_problem_at(
        mutated("platform.prefix", "sthree"),
        "teams.risk.environments.dev",
        "'sthree-' is reserved by S3",
    )


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("xn--bucket", "'xn--' is reserved"),
        ("sthree-bucket", "'sthree-' is reserved"),
        ("bucket-s3alias", "'-s3alias' is reserved"),
        ("bucket--ol-s3", "'--ol-s3' is reserved"),
        ("192.168.5.4", "IP address"),
        ("Bucket", "lowercase"),
        ("a..b", "without '..'"),
        ("ab", "3-63"),
    ],
)
def test_s3_bucket_rules(name, words):
    assert words in s3_bucket_problem(name)


def test_s3_bucket_rules_accept_an_ordinary_name():
    assert s3_bucket_problem("dbp-risk-dev-root-0a1b2c") is None


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("ana@example.com", True),
        ("ana+ci@example.com", True),
        ("2026-11-22T20:00:00Z", True),
        ("José Müller", True),
        ("o'neil@example.com", False),
        ("a&b@example.com", False),
        ("x" * 257, False),
    ],
)
def test_aws_tag_values_allow_only_the_iam_character_set(value, ok):
    assert (aws_tag_value_problem(value) is None) is ok


def ephemeral(config, team: str, name: str, *, owner: str = "ana@example.com") -> TeamEnv:
    base = next(te for te in config.team_envs if te.key == f"{team}/dev")
    return cut(base, name=name, slot=0, owner=owner, expires_at=datetime(2026, 12, 7, tzinfo=UTC))


def test_a_new_ephemeral_env_collides_with_a_live_one_that_derives_its_names(monkeypatch):
    config = parse_config(yaml.safe_dump(BASE))
    same_hash(monkeypatch)
    live = [EnvIdentity(prefix="dbp", team="churn", env="pr12345af1", cloud="azure")]
    problems = ephemeral_name_collisions(config, ephemeral(config, "churn", "pr12345agb"), live)
    assert problems == [
        "derived Azure storage account name 'stdbpchurpr1000000000000' is already live ephemeral env "
        "churn/pr12345af1's (globally unique names); pick another name",
        "derived Azure Key Vault name 'kv-dbpchupr1-00000000000' is already live ephemeral env "
        "churn/pr12345af1's (globally unique names); pick another name",
    ]


def test_a_new_ephemeral_env_is_free_when_only_itself_is_live():
    config = parse_config(yaml.safe_dump(BASE))
    me = ephemeral(config, "churn", "pr42")
    live = [me.identity, EnvIdentity(prefix="dbp", team="pricing", env="pr7", cloud="azure")]
    assert ephemeral_name_collisions(config, me, live) == []


def test_a_new_ephemeral_env_collides_with_a_permanent_one(monkeypatch):
    same_hash(monkeypatch)
    raw = mutated("teams.0.name", "analyticsabc")
    # churn/prod no longer exists
    raw["platform"]["audit"]["system_tables"]["managed_in"][0] = "analyticsabc/prod"
    config = parse_config(yaml.safe_dump(raw))
    # the readable part of analyticsabc/dev and analyticsabc/devx is the same: dbpanaldev
    (first, *_) = ephemeral_name_collisions(config, ephemeral(config, "analyticsabc", "devx"), [])
    assert "is already permanent env analyticsabc/dev's" in first


def test_platform_validate_refuses_a_reserved_bucket_name_in_one_line_with_exit_2(tmp_path, capsys):
    from infra.cli.main import main

    file = tmp_path / "platform.yaml"
    file.write_text(yaml.safe_dump(mutated("platform.prefix", "sthree")))
    with pytest.raises(SystemExit) as exited:
        main(["validate", "--config", str(file)])
    out, err = capsys.readouterr()
    assert exited.value.code == 2 and out == "" and "Traceback" not in err
    lines = err.splitlines()
    assert lines and all(line.startswith(f"error: {file}: teams.risk.environments.") for line in lines)
    assert all("'sthree-' is reserved by S3" in line for line in lines)
