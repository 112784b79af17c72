"""The env's monthly cost budget over its two resource groups (its own and the workspace's managed one), with
e-mail alerts."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_azurerm.consumption_budget_subscription import (
    ConsumptionBudgetSubscription,
    ConsumptionBudgetSubscriptionFilter,
    ConsumptionBudgetSubscriptionFilterDimension,
    ConsumptionBudgetSubscriptionNotification,
    ConsumptionBudgetSubscriptionTimePeriod,
)
from constructs import Construct

from infra.config import TeamEnv
from infra.constructs.azure.resource_group import ResourceGroupRef

# Pins the synth's date (YYYY-MM-DD) for reproducible comparisons. Deliberately not SOURCE_DATE_EPOCH: the
# workflows set that to 1980 for a reproducible wheel, and a budget starting then is refused by Azure.
SYNTH_DATE_VAR = "PLATFORM_SYNTH_DATE"


def utc_today() -> date:
    """The synth's date: ``$PLATFORM_SYNTH_DATE`` when set, else today (UTC)."""
    pinned = os.environ.get(SYNTH_DATE_VAR)
    if not pinned:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(pinned)
    except ValueError:
        raise ValueError(f"{SYNTH_DATE_VAR} must be a date, YYYY-MM-DD (is {pinned!r})") from None


def budget_start(team_env: TeamEnv, *, today: date) -> date:
    """First day of the month the budget counts from; never before the month of ``today``.

    Azure accepts a past start date only inside the current month, at creation, so a fixed date in config breaks
    every env first deployed after that month. The start is the first of the synth's month (or the later
    ``platform.budget_start``); ``ignore_changes`` keeps each budget's original start after creation. An
    ephemeral env is created at most a week before it expires, so the first of its expiry month is this month or
    the next (a future start up to twelve months out is allowed).
    """
    this_month = today.replace(day=1)
    if team_env.is_ephemeral and team_env.expires_at:
        expiry = datetime.fromisoformat(team_env.expires_at.replace("Z", "+00:00"))
        return max(date(expiry.year, expiry.month, 1), this_month)
    configured = team_env.platform.budget_start
    return max(configured, this_month) if configured else this_month


class CostBudget(Construct):
    """Monthly budget of what the env spends; one actual-cost alert per configured threshold.

    The workspace's clusters run (and are billed) in its managed resource group, which Databricks creates and
    guards with a deny assignment: a budget scoped to the env's resource group never sees them. So the budget
    sits on the subscription, filtered to the env's resource group and the managed one (azurerm v4.55.0
    internal/services/consumption/consumption_budget_base.go: ``filter.dimension`` ``ResourceGroupName``, operator
    ``In``); the deployer needs Cost Management Contributor on the subscription.

    No ``end_date``: Azure then runs the budget for ten years. ``start_date`` must be RFC 3339 and the first of
    a month; changing it replaces the budget, so it is ignored after creation: a later synth's month (derived
    from ``today``, which tests pin so snapshots stay stable) leaves the budgets of existing envs alone.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        subscription_id: str,
        resource_group: ResourceGroupRef,
        today: date,
    ) -> None:
        """``subscription_id``: the bare ID (GUID) of the subscription the env deploys into."""
        super().__init__(scope, id)
        budget = team_env.settings.budget
        self.budget = ConsumptionBudgetSubscription(
            self,
            "budget",
            name=team_env.names.budget,  # unique in the subscription: derived from (prefix, team, env)
            subscription_id=f"/subscriptions/{subscription_id}",
            amount=budget.amount,
            time_grain="Monthly",
            filter=ConsumptionBudgetSubscriptionFilter(
                dimension=[
                    ConsumptionBudgetSubscriptionFilterDimension(
                        name="ResourceGroupName",
                        operator="In",
                        values=[resource_group.name, team_env.names.managed_resource_group],
                    )
                ]
            ),
            time_period=ConsumptionBudgetSubscriptionTimePeriod(
                start_date=f"{budget_start(team_env, today=today).isoformat()}T00:00:00Z"
            ),
            notification=[
                ConsumptionBudgetSubscriptionNotification(
                    enabled=True,
                    threshold=threshold,
                    threshold_type="Actual",
                    operator="GreaterThanOrEqualTo",
                    contact_emails=[str(email) for email in team_env.team.notification_emails],
                )
                for threshold in budget.alert_thresholds
            ],
            lifecycle=TerraformResourceLifecycle(ignore_changes=["time_period"]),
        )
