"""`platform env up` refuses, before anything is built, an ephemeral env whose globally unique names a live env
already holds, and on AWS an owner its IAM role tags cannot carry (one line, exit 2)."""

from tests.infra.test_config_unique_names import same_hash
from tests.lifecycle.fakes import ephemeral_group


def assert_refused(result, fakes, message):
    assert result.code == 2, result
    assert result.err_lines == [f"error: {message}"]
    assert "Traceback" not in result.err
    assert fakes.nothing_happened(), fakes.events


def test_env_up_refuses_a_name_whose_storage_account_a_live_env_holds(cli, fakes, monkeypatch):
    """Two ephemeral names that differ late share their readable part; with the hash forced equal (as a real
    collision would be), the live env's storage account would be the new env's."""
    same_hash(monkeypatch)
    fakes.groups.groups = [ephemeral_group(env="pr12345af1", slot="0", expires="2026-11-23T00:00:00Z")]
    assert_refused(
        cli("env", "up", "pr12345agb", "--from", "churn/dev"),
        fakes,
        "NAME: 'pr12345agb' cannot be used: derived Azure storage account name 'stdbpchurpr1000000000000' is "
        "already live ephemeral env churn/pr12345af1's (globally unique names); pick another name",
    )


def test_env_up_again_of_the_same_env_is_not_a_collision_with_itself(cli, fakes, monkeypatch):
    same_hash(monkeypatch)
    fakes.groups.groups = [ephemeral_group(env="pr42", slot="1", expires="2026-11-23T00:00:00Z")]
    result = cli("env", "up", "pr42", "--from", "churn/dev")
    assert result.code == 0, result.err


def test_env_up_of_an_aws_env_refuses_an_owner_that_iam_tags_cannot_carry(cli, fakes):
    assert_refused(
        cli("env", "up", "pr42", "--from", "risk/dev", "--owner", "o'neil@example.com"),
        fakes,
        '--owner: "o\'neil@example.com" holds "\'", which AWS tag values cannot (letters, digits, spaces, '
        "_.:/=+-@); the owner is tagged on the env's IAM roles",
    )
