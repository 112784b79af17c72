"""`platform validate` on AWS teams: what the AWS stacks cannot deliver is refused in one line (exit 2), and what
fits but may hit the account's default quotas is a warning."""

import copy
from pathlib import Path

import pytest
import yaml

from infra.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = yaml.safe_load((ROOT / "platform.yaml").read_text())
AWS_TEAM = next(i for i, t in enumerate(COMMITTED["teams"]) if t.get("cloud") == "aws")


def validate(config: dict, tmp_path, capsys) -> tuple[int, str, str]:
    path = tmp_path / "platform.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(SystemExit) as exited:
        main(["validate", "--config", str(path)])
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def aws_team(config: dict) -> dict:
    return config["teams"][AWS_TEAM]


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("public_network_access", False, "needs front-end PrivateLink"),
        ("network_isolation", "private", "back-end PrivateLink is egress: {mode: isolated}"),
        (
            "customer_managed_key",
            {
                "existing_key_id": "https://kv1.vault.azure.net/keys/k/0123456789abcdef0123456789abcdef",
                "existing_key_vault_id": (
                    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
                    "Microsoft.KeyVault/vaults/kv1"
                ),
            },
            "names an Azure Key Vault key",
        ),
    ],
)
def test_settings_the_aws_stacks_would_ignore_are_refused_in_one_line(tmp_path, capsys, field, value, words):
    # Before: each validated and the AWS stacks deployed a public workspace without a customer key.
    config = copy.deepcopy(COMMITTED)
    prod = aws_team(config)["environments"]["prod"]
    prod[field] = value
    prod["deploy_runner"] = [
        "self-hosted",
        "risk-prod",
    ]  # a private env's runner is there: only the AWS refusal stays
    code, out, err = validate(config, tmp_path, capsys)
    path = f"teams.risk.environments.prod.{field}: "
    (line,) = err.strip().splitlines()
    assert code == 2 and out == "" and path in line and words in line


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("public_network_access", False, "needs front-end PrivateLink"),
        ("network_isolation", "private", "back-end PrivateLink is egress: {mode: isolated}"),
    ],
)
def test_a_private_aws_env_without_a_runner_is_told_the_aws_refusal_not_to_add_a_runner(
    tmp_path, capsys, field, value, words
):
    # Before: validate said "deploy_runner: required when ... name the labels of a runner inside its network";
    # following that fix only led to this refusal. The line that holds is the one to show first.
    config = copy.deepcopy(COMMITTED)
    prod = aws_team(config)["environments"]["prod"]
    prod[field] = value
    prod.pop("deploy_runner", None)
    code, out, err = validate(config, tmp_path, capsys)
    (line,) = err.strip().splitlines()
    assert code == 2 and out == ""
    assert f"teams.risk.environments.prod.{field}: " in line and words in line
    assert "deploy_runner" not in line


@pytest.mark.parametrize(
    "key",
    [
        {"existing_key_id": "arn:aws:kms:eu-west-1:123456789012:key/0b6e9a7c-1f2d-4c3b-9a8e-7d6c5b4a3f21"},
        {
            "existing_key_vault_id": "arn:aws:kms:eu-west-1:123456789012:key/0b6e9a7c-1f2d-4c3b-9a8e-7d6c5b4a3f21"
        },
    ],
    ids=["aws-key-arn", "key-without-vault"],
)
def test_an_existing_key_on_aws_is_told_the_aws_refusal_not_the_azure_format(tmp_path, capsys, key):
    # Before: an AWS key ARN was "invalid: Versioned ID of an existing key, https://<vault>.vault.azure.net/...",
    # and a lone field "set together or not at all": Azure fixes that only led to the AWS refusal.
    config = copy.deepcopy(COMMITTED)
    aws_team(config)["environments"]["prod"]["customer_managed_key"] = key
    code, out, err = validate(config, tmp_path, capsys)
    (line,) = err.strip().splitlines()
    assert code == 2 and out == ""
    assert "teams.risk.environments.prod.customer_managed_key: existing_key_id names an Azure" in line
    assert "use customer_managed_key: {}" in line and "vault.azure.net" not in line


def test_more_budget_addresses_than_an_aws_budget_mails_are_refused(tmp_path, capsys):
    # AWS Budgets takes at most 10 email subscribers per notification (API reference,
    # NotificationWithSubscribers); the aws provider sets no limit (internal/service/budgets/budget.go), so the 11th address failed the apply.
    config = copy.deepcopy(COMMITTED)
    aws_team(config)["notification_emails"] = [f"person{i}@example.com" for i in range(11)]
    code, out, err = validate(config, tmp_path, capsys)
    (line,) = err.strip().splitlines()
    assert code == 2 and out == ""
    assert "teams.risk.notification_emails: 11 addresses, but an AWS budget alert mails at most 10" in line
    aws_team(config)["notification_emails"] = aws_team(config)["notification_emails"][:10]
    code, _, _ = validate(config, tmp_path, capsys)
    assert code == 0


def test_no_nat_gateway_for_the_whole_team_is_refused_with_the_per_env_setting(tmp_path, capsys):
    config = copy.deepcopy(COMMITTED)
    aws_team(config)["aws"]["nat_gateway"] = False
    code, _, err = validate(config, tmp_path, capsys)
    (line,) = err.strip().splitlines()
    assert code == 2
    assert "teams.risk.aws.nat_gateway: false would leave the open-egress envs no path" in line
    assert "egress: {mode: isolated}" in line


def test_the_committed_aws_team_still_validates(tmp_path, capsys):
    code, out, err = validate(copy.deepcopy(COMMITTED), tmp_path, capsys)
    assert code == 0 and "valid" in out and "error" not in err


def test_a_stack_created_workspace_key_validates_on_aws(tmp_path, capsys):
    # implemented (docs/aws.md, "Customer-managed keys"): the refusal is gone for this form only
    config = copy.deepcopy(COMMITTED)
    aws_team(config)["environments"]["prod"]["customer_managed_key"] = {}
    code, out, err = validate(config, tmp_path, capsys)
    assert code == 0 and "valid" in out and err == ""


def second_aws_team(config: dict, *, account: str, envs: dict) -> dict:
    team = copy.deepcopy(aws_team(config))
    team |= {"name": "fraud", "owner_groups": ["fraud-owners"], "reader_groups": [], "environments": envs}
    team["aws"] = {"account_id": account}
    team.pop("ephemeral", None)
    config["teams"].append(team)
    return config


def test_envs_beyond_the_default_vpc_and_eip_quotas_of_one_account_and_region_warn(tmp_path, capsys):
    # risk: dev, staging, prod + one ephemeral env = 4 VPCs, plus the default VPC = 5: at the quota, no warning.
    code, out, _ = validate(copy.deepcopy(COMMITTED), tmp_path, capsys)
    assert code == 0 and "quotas" not in out
    config = second_aws_team(
        copy.deepcopy(COMMITTED),
        account=aws_team(COMMITTED)["aws"]["account_id"],
        envs={"staging": {"network": "10.40.0.0/22", "budget": {"amount": 100}}},
    )
    code, out, _ = validate(config, tmp_path, capsys)
    (line,) = [line for line in out.splitlines() if "quotas" in line]
    assert code == 0  # a warning, not an error: the account may have raised quotas
    assert line.startswith("warning: teams.risk.region: 5 envs of 'risk', 'fraud'")
    assert "need 6 VPCs" in line and "5 Elastic IPs" in line and "request increases" in line


def test_the_same_teams_in_their_own_accounts_do_not_warn(tmp_path, capsys):
    config = second_aws_team(
        copy.deepcopy(COMMITTED),
        account="210987654321",
        envs={"staging": {"network": "10.40.0.0/22", "budget": {"amount": 100}}},
    )
    code, out, _ = validate(config, tmp_path, capsys)
    assert code == 0 and "quotas" not in out and "budgets" not in out


def test_two_teams_sharing_an_account_warn_that_their_budgets_overlap(tmp_path, capsys):
    config = second_aws_team(
        copy.deepcopy(COMMITTED),
        account=aws_team(COMMITTED)["aws"]["account_id"],
        envs={"dev": {"network": "10.40.0.0/22", "budget": {"amount": 100}}},
    )
    code, out, _ = validate(config, tmp_path, capsys)
    (line,) = [line for line in out.splitlines() if "budgets" in line]
    assert code == 0 and ".aws.account_id: teams 'risk', 'fraud' share AWS account" in line
    assert "dev envs" in line
