"""What the synthesized AWS platform stack derives from the account and the config (the moto run in
test_aws_terraform.py applies it for real)."""

import copy

import pytest

DEV, PROD = "risk-dev-platform", "risk-prod-platform"


@pytest.mark.parametrize("stack", [DEV, PROD])
def test_subnets_take_the_accounts_available_zones_not_letters_of_the_region(synthesized, stack):
    # Zone letters map to different zones per account (aws provider v5.100.0 data source aws_availability_zones,
    # state "available"); opt-in Local/Wavelength Zones are left out.
    ((zones_name, zones),) = synthesized.json(stack)["data"]["aws_availability_zones"].items()
    assert zones["state"] == "available"
    assert zones["filter"] == [{"name": "opt-in-status", "values": ["opt-in-not-required"]}]
    subnets = synthesized.resources(stack, "aws_subnet")
    names = f"data.aws_availability_zones.{zones_name}.names"
    by_cidr = {s["cidr_block"]: s["availability_zone"] for s in subnets.values()}
    assert sorted(set(by_cidr.values())) == [f"${{element({names}, 0)}}", f"${{element({names}, 1)}}"]
    assert not any("eu-west-1a" in z or "eu-west-1b" in z for z in by_cidr.values())
    # a zone that is briefly unavailable shifts the list: a subnet in use never moves for that
    assert all(s["lifecycle"] == {"ignore_changes": ["availability_zone"]} for s in subnets.values())


@pytest.mark.parametrize(("stack", "env", "amount"), [(DEV, "dev", "800.00"), (PROD, "prod", "4000.00")])
def test_each_env_gets_a_budget_on_its_env_tag_mailing_the_team(
    synthesized, platform_config, stack, env, amount
):
    budget = synthesized.only(stack, "aws_budgets_budget")
    assert budget["budget_type"] == "COST" and budget["time_unit"] == "MONTHLY"
    assert (budget["limit_amount"], budget["limit_unit"]) == (amount, "USD")
    # aws provider v5.100.0 website/docs/r/budgets_budget.html.markdown: tag filters are "user:<key>$<value>"
    assert budget["cost_filter"] == [{"name": "TagKeyValue", "values": [f"user:env${env}"]}]
    team = next(t for t in platform_config.teams if t.name == "risk")
    assert [n["threshold"] for n in budget["notification"]] == [80, 100]
    for notification in budget["notification"]:
        assert notification["subscriber_email_addresses"] == [str(e) for e in team.notification_emails]
        assert (
            notification["threshold_type"] == "PERCENTAGE" and notification["notification_type"] == "ACTUAL"
        )


def test_policy_refuses_a_subnet_that_would_follow_the_zone_list(synthesized):
    (aspect_stack,) = [s for s in synthesized.app._aspect_stacks if s.stack_name == DEV]
    document = synthesized.json(DEV)
    assert aspect_stack.apply_aspects(copy.deepcopy(document)) is not None  # compliant as synthesized
    next(iter(document["resource"]["aws_subnet"].values())).pop("lifecycle")
    with pytest.raises(RuntimeError, match="PLAT-AWS-VPC-6"):
        aspect_stack.apply_aspects(document)
