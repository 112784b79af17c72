"""The env's monthly AWS budget: its spend, found by the env's cost allocation tag, mailed to the team."""

from __future__ import annotations

from cdktf_cdktf_provider_aws.budgets_budget import (
    BudgetsBudget,
    BudgetsBudgetCostFilter,
    BudgetsBudgetNotification,
)
from constructs import Construct

from infra.config import TeamEnv


def env_cost_filter(team_env: TeamEnv) -> BudgetsBudgetCostFilter:
    """Spend tagged with the env: its AWS resources (tagging aspect) and the EC2 instances of its clusters, which
    Databricks tags with the clusters' custom tags (the same team/env tags). AWS Budgets writes a user tag filter as
    `user:<key>$<value>` (aws provider v5.100.0, website/docs/r/budgets_budget.html.markdown). Values of one
    filter are ORed, so the filter is on the env tag alone; a budget sees only its own account's spend, which keeps
    other teams out as long as each AWS team has its own account (validate warns otherwise)."""
    return BudgetsBudgetCostFilter(name="TagKeyValue", values=[f"user:env${team_env.env}"])


class EnvBudget(Construct):
    def __init__(self, scope: Construct, id: str, *, team_env: TeamEnv) -> None:
        super().__init__(scope, id)
        budget = team_env.settings.budget  # an ephemeral env's is its template's
        self.budget = BudgetsBudget(
            self,
            "budget",
            name=team_env.names.budget,
            budget_type="COST",
            time_unit="MONTHLY",
            limit_amount=f"{budget.amount:.2f}",
            limit_unit="USD",
            cost_filter=[env_cost_filter(team_env)],
            notification=[
                BudgetsBudgetNotification(
                    comparison_operator="GREATER_THAN",
                    notification_type="ACTUAL",
                    threshold=threshold,
                    threshold_type="PERCENTAGE",
                    subscriber_email_addresses=list(team_env.team.notification_emails),
                )
                for threshold in budget.alert_thresholds
            ],
        )
