""".github/scripts/changed_stacks.py: which stacks the pull-request diff job plans, and in what order."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / ".github" / "scripts" / "changed_stacks.py"
_spec = importlib.util.spec_from_file_location("changed_stacks", SCRIPT)
changed_stacks = importlib.util.module_from_spec(_spec)
sys.modules["changed_stacks"] = changed_stacks  # dataclasses look their module up while the class is built
_spec.loader.exec_module(changed_stacks)


def write_out(root: Path, stacks: dict[str, dict], *, indent: int | None = 2) -> Path:
    for name, document in stacks.items():
        stack_dir = root / "stacks" / name
        stack_dir.mkdir(parents=True)
        (stack_dir / "cdk.tf.json").write_text(json.dumps(document, indent=indent))
    return root


def stack(*, tag: str = "a", wheel: str = "0123456789ab") -> dict:
    return {"resource": {"azurerm_resource_group": {"rg": {"tags": {"team": tag}}}}, "wheel": wheel}


def test_only_changed_and_new_stacks_are_listed_platform_before_workspace(tmp_path):
    base = write_out(
        tmp_path / "base",
        {
            "churn-dev-platform": stack(),
            "churn-dev-workspace": stack(),
            "pricing-dev-workspace": stack(),
            "pricing-dev-platform": stack(),
        },
    )
    head = write_out(
        tmp_path / "head",
        {
            "churn-dev-platform": stack(),
            "churn-dev-workspace": stack(wheel="ba9876543210"),
            "pricing-dev-workspace": stack(tag="b"),
            "pricing-dev-platform": stack(tag="b"),
            "churn-staging-platform": stack(),
        },
    )

    changes = changed_stacks.compare(head, base)

    assert changes.changed == [
        "churn-dev-workspace",
        "churn-staging-platform",
        "pricing-dev-platform",
        "pricing-dev-workspace",
    ]
    assert changes.removed == []


def test_formatting_alone_is_no_change(tmp_path):
    base = write_out(tmp_path / "base", {"churn-dev-platform": stack()}, indent=None)
    head = write_out(tmp_path / "head", {"churn-dev-platform": stack()}, indent=4)
    assert changed_stacks.compare(head, base).changed == []


def test_stacks_that_left_the_config_are_reported_as_removed(tmp_path):
    base = write_out(tmp_path / "base", {"churn-dev-platform": stack(), "old-dev-platform": stack()})
    head = write_out(tmp_path / "head", {"churn-dev-platform": stack()})
    changes = changed_stacks.compare(head, base)
    assert changes.changed == []
    assert changes.removed == ["old-dev-platform"]


def test_without_a_base_every_stack_counts_as_changed(tmp_path):
    head = write_out(tmp_path / "head", {"churn-dev-workspace": stack(), "churn-dev-platform": stack()})
    assert changed_stacks.compare(head, None).changed == ["churn-dev-platform", "churn-dev-workspace"]


def test_main_writes_github_outputs(tmp_path, capsys):
    base = write_out(tmp_path / "base", {"churn-dev-platform": stack(), "gone-dev-platform": stack()})
    head = write_out(
        tmp_path / "head", {"churn-dev-platform": stack(tag="x"), "churn-dev-workspace": stack()}
    )
    output = tmp_path / "github_output"

    code = changed_stacks.main(["--head", str(head), "--base", str(base), "--github-output", str(output)])

    assert code == 0
    assert output.read_text() == "changed=churn-dev-platform churn-dev-workspace\nremoved=gone-dev-platform\n"
    captured = capsys.readouterr()
    assert captured.out == "churn-dev-platform\nchurn-dev-workspace\n"
    assert "gone-dev-platform" in captured.err


@pytest.mark.parametrize("make_head", [False, True], ids=["missing dir", "no stacks"])
def test_an_empty_or_missing_head_output_is_an_error(tmp_path, capsys, make_head):
    head = tmp_path / "head"
    if make_head:
        (head / "stacks").mkdir(parents=True)
    assert changed_stacks.main(["--head", str(head)]) == 2
    assert "synthesize first" in capsys.readouterr().err


def test_an_ml_only_change_changes_only_the_workspace_stacks_that_deploy_the_churn_wheel(tmp_path):
    """What makes `--only workspace` enough for a change under ml/ (deploy.yml, docs/ml-lifecycle.md): two synths
    that differ only in the churn wheel's bytes differ only in the workspace stacks of team-envs running churn;
    the platform stacks and a team without the churn workload (pricing: a bundle) are untouched."""
    from infra.app import build_app
    from infra.config import load_config

    config = load_config(Path(__file__).resolve().parents[2] / "platform.yaml")
    chosen = [te for te in config.team_envs if te.key in ("churn/dev", "pricing/dev")]
    outs = {}
    for build, content in (("base", b"churn wheel v1\n"), ("head", b"churn wheel v2\n")):
        wheel = tmp_path / build / "dist" / "churn-0.1.0-py3-none-any.whl"
        wheel.parent.mkdir(parents=True)
        wheel.write_bytes(content)
        outs[build] = tmp_path / build / "out"
        build_app(config, outdir=outs[build], wheel=wheel, team_envs=chosen).synth()
    changes = changed_stacks.compare(outs["head"], outs["base"])
    assert changes.changed == ["churn-dev-workspace"]
    assert changes.removed == []
