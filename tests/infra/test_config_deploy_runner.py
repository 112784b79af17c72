"""`deploy_runner`: an env with a private front end names the CI runner that can reach it, or the config is refused.

A GitHub-hosted runner reaches a workspace only over its public front end; with public_network_access false the
workspace answers only inside its network (issue 12, point 4), so CI must deploy it from a runner there.
"""

from pathlib import Path

import pytest
import yaml

from infra.cli.main import main
from infra.config import parse_config

ROOT = Path(__file__).resolve().parents[2]


def committed() -> dict:
    return yaml.safe_load((ROOT / "platform.yaml").read_text())


def validate(config: dict, tmp_path: Path, capsys) -> tuple[int, list[str]]:
    path = tmp_path / "platform.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(SystemExit) as exited:
        main(["validate", "--config", str(path)])
    _, err = capsys.readouterr()
    return exited.value.code, err.strip().splitlines()


def test_a_private_env_without_a_runner_is_one_error_line_naming_the_field(tmp_path, capsys):
    config = committed()
    prod = config["teams"][0]["environments"]["prod"]
    assert prod["public_network_access"] is False
    del prod["deploy_runner"]
    code, lines = validate(config, tmp_path, capsys)
    assert code == 2
    assert len(lines) == 1
    assert (
        "teams.churn.environments.prod.deploy_runner: required when public_network_access is false and "
        "network_isolation is private" in lines[0]
    )
    assert "Traceback" not in lines[0]


def test_a_private_env_cannot_name_a_github_hosted_runner(tmp_path, capsys):
    config = committed()
    config["teams"][0]["environments"]["prod"]["deploy_runner"] = ["ubuntu-latest"]
    code, lines = validate(config, tmp_path, capsys)
    assert code == 2
    assert lines == [
        f"error: {tmp_path / 'platform.yaml'}: teams.churn.environments.prod.deploy_runner: 'ubuntu-latest' is a "
        "GitHub-hosted runner label, which cannot reach this env (public_network_access is false and "
        "network_isolation is private); name a runner inside its network"
    ]


def test_a_label_that_runs_on_cannot_take_is_refused(tmp_path, capsys):
    config = committed()
    config["teams"][0]["environments"]["prod"]["deploy_runner"] = ["self-hosted", "two words"]
    code, lines = validate(config, tmp_path, capsys)
    assert code == 2 and len(lines) == 1
    assert "teams.churn.environments.prod.deploy_runner[1]: 'two words' is invalid" in lines[0]


def test_the_committed_private_env_names_its_runner_and_public_envs_need_none():
    config = parse_config((ROOT / "platform.yaml").read_text())
    runners = {te.key: te.settings.deploy_runner for te in config.team_envs}
    private = {te.key for te in config.team_envs if te.settings.reachable_only_from_its_network}
    assert private == {"churn/prod", "pricing/prod"}
    assert all("self-hosted" in runners[key] for key in private)
    # A public env needs none, unless an IP access list guards its front end: then the deploying runner's address
    # must be on it, which no GitHub-hosted runner's is (risk/prod, infra/config/hardening.py).
    listed = {te.key for te in config.team_envs if te.settings.hardening.ip_access_list}
    assert all(runners[key] == [] for key in runners.keys() - private - listed)
    assert all("self-hosted" in runners[key] for key in listed)


def test_a_public_env_may_name_a_runner_too():
    config = committed()
    config["teams"][1]["environments"]["prod"]["deploy_runner"] = ["self-hosted", "pricing"]
    loaded = parse_config(yaml.safe_dump(config))
    assert loaded.team("pricing").environments["prod"].deploy_runner == ["self-hosted", "pricing"]


def test_a_private_lake_and_vault_need_a_runner_even_with_a_public_front_end(tmp_path, capsys):
    """With network_isolation private the stack creates its key through the vault's private endpoint: a
    GitHub-hosted runner cannot reach it, even when the workspace front end is public."""
    config = committed()
    prod = config["teams"][1]["environments"]["prod"]
    assert prod.get("public_network_access", True) is True
    del prod["deploy_runner"]
    code, lines = validate(config, tmp_path, capsys)
    assert code == 2
    assert len(lines) == 1
    assert (
        "teams.pricing.environments.prod.deploy_runner: required when network_isolation is private"
        in lines[0]
    )
