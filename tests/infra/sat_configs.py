"""Configs with the Security Analysis Tool on, for the SAT tests: the committed platform.yaml plus what SAT needs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infra.config import ConfigError, parse_config
from infra.config.security_analysis_tool import SAT_SCANNER_HOSTS

ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"
TENANT_ID = "0f1e2d3c-4b5a-4968-8776-655443322110"
SUBSCRIPTION_ID = "7d6c5b4a-3f2e-4d1c-9b0a-8f7e6d5c4b3a"
AZURE_HOSTS = ["accounts.azuredatabricks.net", "login.microsoftonline.com", "management.azure.com"]
# The secrets scanner's TruffleHog download (SAT_SCANNER_HOSTS; test_sat_reach.py).
GITHUB_HOSTS = ["github.com", "*.githubusercontent.com"]


def sat_config(**sat: object) -> dict:
    """The committed config with SAT on in churn/prod (Azure, firewall egress) and what SAT needs there (the
    account hosts and the secrets scanner's GitHub download)."""
    raw = yaml.safe_load((ROOT / "platform.yaml").read_text())
    raw["platform"] |= {"tenant_id": TENANT_ID, "subscription_id": SUBSCRIPTION_ID}
    raw["platform"]["audit"]["security_analysis_tool"] = {
        "enabled": True,
        "workspace": "churn/prod",
        "client_id": CLIENT_ID,
    } | sat
    teams = {team["name"]: team for team in raw["teams"]}
    teams["churn"]["environments"]["prod"]["egress"] = {
        "mode": "firewall",
        "allowed_fqdns": [*AZURE_HOSTS, *GITHUB_HOSTS],
    }
    return raw


def problems(raw: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(yaml.safe_dump(raw))
    return [line.removeprefix("platform.yaml: ") for line in caught.value.lines()]


def fields(lines: list[str]) -> list[str]:
    return [line.split(": ")[0] for line in lines]


def aws_sat_config(**sat: object) -> dict:
    """SAT in risk/prod (AWS) with open egress and its reason (the committed risk/prod is isolated, where SAT's job
    clusters reach neither PyPI nor the account console): no tenant or subscription."""
    raw = sat_config(workspace="risk/prod", **sat)
    del raw["platform"]["tenant_id"], raw["platform"]["subscription_id"]
    (risk,) = [team for team in raw["teams"] if team["name"] == "risk"]
    risk["environments"]["prod"]["egress"] = {
        "mode": "open",
        "open_reason": "SAT's job clusters install its SDK from PyPI and call accounts.cloud.databricks.com",
    }
    return raw


def aws_serverless_sat_config() -> dict:
    """SAT on serverless in risk/prod (AWS): the env runs its jobs on serverless (no compliance security profile),
    and its restricted serverless egress allows the account console and the secrets scanner's download hosts."""
    raw = aws_sat_config(serverless=True)
    prod = raw["teams"][2]["environments"]["prod"]
    prod["serverless"] = {
        "jobs": True,
        "allowed_fqdns": ["accounts.cloud.databricks.com", *SAT_SCANNER_HOSTS],
    }
    prod["hardening"]["compliance_security_profile"] = False
    return raw
