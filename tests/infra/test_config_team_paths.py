"""Error lines name a team by its name (`teams.churn.environments.dev...`), in model errors, cross-checks and
warnings alike; only a team whose name is missing, unusable in a path or shared falls back to `teams[N]`."""

import yaml

from infra.config import parse_config
from infra.config.deployability import deploy_warnings
from tests.infra.test_config import mutated, problems_of


def test_a_field_error_names_the_team_not_its_position():
    lines = problems_of(mutated("teams.2.environments.prod.budget.amount", -1))
    assert lines == [
        "platform.yaml: teams.risk.environments.prod.budget.amount: Input should be greater than 0"
    ]


def test_cross_checks_name_both_teams_by_name():
    lines = problems_of(mutated("teams.2.environments.dev.network", "10.20.0.0/24"))
    assert lines == [
        "platform.yaml: teams.risk.environments.dev.network: 10.20.0.0/24 overlaps 10.20.0.0/22 of "
        "teams.pricing.environments.dev.network"
    ]


def test_cloud_cross_checks_name_the_team():
    lines = problems_of(mutated("teams.1.aws", {"account_id": "123456789012"}))
    assert [line.split(": ")[1] for line in lines] == ["teams.pricing.aws"]


def test_warnings_name_the_team():
    config = parse_config(yaml.safe_dump(mutated("teams.1.environments.dev.interactive_cluster", True)))
    assert [w.split(":")[0] for w in deploy_warnings(config)] == [
        "teams.churn.environments.dev.interactive_cluster",
        "teams.pricing.environments.dev.interactive_cluster",
        # the bundle CI that deploys pricing/prod's target from behind its IP access list (infra/config/hardening.py)
        "teams.pricing.workloads[0].ci",
    ]


def test_a_team_without_a_usable_or_unique_name_is_named_by_its_position():
    missing = mutated("teams.1.name", delete=True)
    missing["teams"][1]["environments"]["dev"]["budget"]["amount"] = 0
    assert sorted(line.split(": ")[1] for line in problems_of(missing)) == [
        "teams[1].environments.dev.budget.amount",
        "teams[1].name",
    ]
    odd = mutated("teams.1.name", "pricing team")
    assert [line.split(": ")[1] for line in problems_of(odd)] == ["teams[1].name"]
    shared = mutated("teams.1.name", "churn")
    assert "teams[1].name" in problems_of(shared)[0]
