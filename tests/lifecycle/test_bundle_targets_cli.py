"""`platform bundle-targets TEAM`: the targets of the team's bundle workload, with the host, run_as principal and
cluster policy read from each env's deployed workspace stack (through the runner: fakes here); an env that is not
deployed is one line and exit 2, and --out never replaces a file this command did not write."""

from __future__ import annotations

import json
from dataclasses import replace

import yaml

from infra.config import load_config
from infra.constructs.bundle_contract import (
    BUNDLE_CLUSTER_POLICY_OUTPUT,
    BUNDLE_HOST_OUTPUT,
    artifact_volume_output,
    run_as_output,
)
from infra.lifecycle.bundle_targets import HEADER
from infra.lifecycle.ephemeral import NETWORK_TAG
from tests.lifecycle.fakes import ephemeral_group

ENVS = ("dev", "staging", "prod")


def deploy_pricing(fakes, config_path, envs=ENVS) -> dict[str, dict[str, str]]:
    config = load_config(config_path)
    outputs = {}
    for index, env in enumerate(envs):
        team_env = next(te for te in config.team_envs if te.key == f"pricing/{env}")
        outputs[team_env.names.workspace_stack] = {
            BUNDLE_HOST_OUTPUT: f"https://adb-{index}.azuredatabricks.net",
            run_as_output("pricing"): f"00000000-0000-4000-8000-00000000000{index}",
            BUNDLE_CLUSTER_POLICY_OUTPUT: f"POLICY{index}",
            artifact_volume_output("pricing"): f"/Volumes/{team_env.names.catalog}/pricing/artifacts",
        }
    fakes.runner.outputs = outputs
    return outputs


def test_prints_one_target_per_env_from_the_deployed_stacks(cli, fakes, config_path):
    deploy_pricing(fakes, config_path)
    result = cli("bundle-targets", "pricing")
    assert result.code == 0, result.err
    assert result.out.startswith(HEADER + "\n")
    document = yaml.safe_load(result.out)
    assert list(document["targets"]) == list(ENVS)
    prod = document["targets"]["prod"]
    assert prod["workspace"]["host"] == "https://adb-2.azuredatabricks.net"
    assert prod["run_as"] == {"service_principal_name": "00000000-0000-4000-8000-000000000002"}
    assert prod["variables"]["cluster_policy_id"] == "POLICY2"
    # the stacks were synthesized (their backends say where the state is), then their outputs read
    assert fakes.events[:2] == ["build wheel", "synth " + " ".join(_pricing_stacks(config_path))]
    assert [e for e in fakes.events if e.startswith("output?")] == [
        f"output? pricing-{env}-workspace {name}"
        for env in ENVS
        for name in (
            BUNDLE_HOST_OUTPUT,
            run_as_output("pricing"),
            BUNDLE_CLUSTER_POLICY_OUTPUT,
            artifact_volume_output("pricing"),
        )
    ]


def _pricing_stacks(config_path):
    config = load_config(config_path)
    return [s for te in config.team_envs if te.team.name == "pricing" for s in te.stacks.values()]


def test_an_env_not_deployed_is_one_line_and_exit_2(cli, fakes, config_path):
    deploy_pricing(fakes, config_path, envs=("dev",))
    result = cli("bundle-targets", "pricing")
    assert (result.code, result.out) == (2, "")
    assert len(result.err_lines) == 1
    line = result.err_lines[0]
    assert line.startswith("error: TEAM: not deployed") and "pricing/staging, pricing/prod" in line
    assert "pricing/dev" not in line


def test_env_picks_one_target_and_reads_only_its_stack(cli, fakes, config_path):
    deploy_pricing(fakes, config_path, envs=("dev",))
    result = cli("bundle-targets", "pricing", "--env", "dev", "--json")
    assert result.code == 0, result.err
    assert list(json.loads(result.out)["targets"]) == ["dev"]
    assert {e.split()[1] for e in fakes.events if e.startswith("output?")} == {"pricing-dev-workspace"}


def test_a_team_without_a_bundle_workload_or_an_unknown_env_is_refused_before_anything_runs(cli, fakes):
    churn = cli("bundle-targets", "churn")
    assert churn.code == 2 and churn.err_lines == [
        "error: TEAM: team 'churn' has no bundle workload (teams.churn.workloads: add one with kind: bundle)"
    ]
    unknown = cli("bundle-targets", "pricing", "--env", "QA")
    assert unknown.code == 2 and len(unknown.err_lines) == 1 and "no environment 'QA'" in unknown.err
    assert fakes.nothing_happened()


def test_env_names_an_ephemeral_env_of_the_team_found_by_its_tags(cli, fakes):
    """`platform env up pr7 --from pricing/dev` made it: its target is a development one, in its own catalog."""
    group = ephemeral_group(team="pricing", env="pr7", base="dev")
    fakes.groups.groups.append(replace(group, tags={**group.tags, NETWORK_TAG: "10.20.64.0/24"}))
    fakes.runner.outputs = {
        "pricing-pr7-workspace": {
            BUNDLE_HOST_OUTPUT: "https://adb-7.azuredatabricks.net",
            run_as_output("pricing"): "00000000-0000-4000-8000-000000000007",
            BUNDLE_CLUSTER_POLICY_OUTPUT: "POLICY7",
            artifact_volume_output("pricing"): "/Volumes/dbp_pricing_pr7/pricing/artifacts",
        }
    }
    result = cli("bundle-targets", "pricing", "--env", "pr7", "--json")
    assert result.code == 0, result.err
    targets = json.loads(result.out)["targets"]
    assert list(targets) == ["pr7"]
    assert targets["pr7"]["mode"] == "development"
    assert "pr7" in targets["pr7"]["variables"]["catalog_name"]
    other = cli("bundle-targets", "pricing", "--env", "pr8")
    assert other.code == 2 and "no ephemeral env named 'pr8'" in other.err


def test_out_writes_a_new_file_and_replaces_only_its_own(cli, fakes, config_path, tmp_path):
    deploy_pricing(fakes, config_path)
    out = tmp_path / "platform-targets.yml"
    first = cli("bundle-targets", "pricing", "--out", str(out))
    assert first.code == 0, first.err
    assert out.read_text().startswith(HEADER) and "targets:" in out.read_text()
    assert oct(out.stat().st_mode & 0o777) == "0o644"
    again = cli("bundle-targets", "pricing", "--out", str(out))
    assert again.code == 0, again.err
    assert [
        p.name for p in tmp_path.iterdir() if p.name.startswith(".platform-targets")
    ] == []  # no temp left


def test_out_refuses_a_file_of_the_users_and_a_directory(cli, fakes, config_path, tmp_path):
    deploy_pricing(fakes, config_path)
    mine = tmp_path / "databricks.yml"
    mine.write_text("bundle: {name: pricing}\n")
    refused = cli("bundle-targets", "pricing", "--out", str(mine))
    assert refused.code == 2 and len(refused.err_lines) == 1
    assert "was not written by `platform bundle-targets`" in refused.err
    assert mine.read_text() == "bundle: {name: pricing}\n"
    directory = cli("bundle-targets", "pricing", "--out", str(tmp_path))
    assert directory.code == 2 and "is not a regular file" in directory.err
    assert fakes.nothing_happened()  # refused before any state is read


def test_json_with_out_is_refused_rather_than_printing_and_writing_nothing(cli, fakes, config_path, tmp_path):
    """`--json --out f` used to print the JSON to stdout, write no file and exit 0."""
    deploy_pricing(fakes, config_path)
    out = tmp_path / "platform-targets.yml"
    result = cli("bundle-targets", "pricing", "--json", "--out", str(out))
    assert (result.code, result.out) == (2, "")
    assert len(result.err_lines) == 1 and result.err_lines[0].startswith("error: --json:"), result.err
    assert not out.exists()
    assert fakes.nothing_happened()


def test_out_must_be_a_yaml_file_the_bundle_can_include(cli, fakes, config_path, tmp_path):
    """The CLI includes only .yml/.yaml/.json files (bundle/config/loader/process_root_includes.go,
    databricks/cli v1.13.0: "Files in the 'include' configuration section must be YAML or JSON files"); this
    command writes YAML, so another suffix would give a file `databricks bundle` refuses to include."""
    deploy_pricing(fakes, config_path)
    for name in ("platform-targets", "platform-targets.txt", "platform-targets.json"):
        result = cli("bundle-targets", "pricing", "--out", str(tmp_path / name))
        assert result.code == 2 and len(result.err_lines) == 1, result.err
        assert result.err_lines[0].startswith("error: --out:") and ".yml" in result.err_lines[0]
        assert not (tmp_path / name).exists()
    assert fakes.nothing_happened()
    ok = cli("bundle-targets", "pricing", "--out", str(tmp_path / "platform-targets.yaml"))
    assert ok.code == 0, ok.err


def test_a_state_that_cannot_be_read_is_reported_with_its_reason_not_as_not_deployed(
    cli, fakes, config_path, monkeypatch
):
    """An expired `az login` fails `terraform init` of the backend (runner.py: "cannot read output ...: terraform
    init failed: ..."); reported as "not deployed ... deploy it", the user would redeploy a deployed env."""
    from infra.lifecycle.errors import OperationFailed

    deploy_pricing(fakes, config_path)

    def unreadable(stack, name, *, outdir):
        fakes.events.append(f"output? {stack} {name}")
        raise OperationFailed(
            f"cannot read output {name} of {stack}: terraform init failed: Error: Failed to get existing "
            "workspaces: obtaining Azure CLI token: run az login"
        )

    monkeypatch.setattr(fakes.runner, "output", unreadable)
    result = cli("bundle-targets", "pricing", "--env", "prod")
    assert result.code != 0 and result.out == ""
    assert len(result.err_lines) == 1, result.err
    assert "run az login" in result.err and "pricing/prod" in result.err
    assert "not deployed" not in result.err


def test_env_up_of_a_bundle_only_team_points_to_its_bundle_targets_not_to_smoke(cli, fakes, config_path):
    """`platform smoke` runs a managed workload's job; pricing has none (smoke refuses it), so `env up` told the
    team to run a command that can only fail. docs/bundles.md's path goes from env up to bundle-targets."""
    raw = yaml.safe_load(config_path.read_text())
    pricing = next(team for team in raw["teams"] if team["name"] == "pricing")
    pricing["ephemeral"] = {"network_pool": "10.20.64.0/22", "default_ttl_hours": 4}
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    result = cli("env", "up", "pr7", "--from", "pricing/dev")
    assert result.code == 0, result.err
    assert result.out.splitlines()[-1] == (
        "up: pricing/pr7; write its bundle target with `platform bundle-targets pricing --env pr7 --out "
        "platform-targets-pr7.yml`, remove it with `platform env down pr7`"
    )


def test_an_env_deployed_before_its_schema_changed_is_refused_not_written(cli, fakes, config_path):
    """The target's catalog, schema and artifact volume come from platform.yaml, host and principal from the
    state: after `schema_name` changed and before the deploy, the target named a schema and volume that do not
    exist, and `databricks bundle deploy` failed on them. The stack's artifact volume output says what is
    deployed."""
    outputs = deploy_pricing(fakes, config_path)
    stack = next(name for name in outputs if name.endswith("-dev-workspace"))
    deployed = outputs[stack][artifact_volume_output("pricing")]
    outputs[stack][artifact_volume_output("pricing")] = deployed.replace("/pricing/", "/pricing_v1/")
    result = cli("bundle-targets", "pricing")
    assert (result.code, result.out) == (2, "")
    assert len(result.err_lines) == 1, result.err
    line = result.err_lines[0]
    assert line.startswith("error: TEAM: deployed before its last config change (pricing/dev has ")
    assert "pricing_v1" in line and "platform deploy" in line and "pricing/prod" not in line


def test_team_slash_env_is_read_as_the_other_commands_read_it(cli, fakes, config_path):
    """`platform deploy pricing/dev`, `env up --from pricing/dev`: a hurried `bundle-targets pricing/dev` was
    refused as an unknown team; it is `pricing --env dev`, and a contradicting --env is one line."""
    deploy_pricing(fakes, config_path, envs=("dev",))
    result = cli("bundle-targets", "pricing/dev", "--json")
    assert result.code == 0, result.err
    assert list(json.loads(result.out)["targets"]) == ["dev"]
    both = cli("bundle-targets", "pricing/dev", "--env", "prod")
    assert both.code == 2 and both.err_lines == [
        "error: --env: 'prod' contradicts 'pricing/dev'; name the env once"
    ]
