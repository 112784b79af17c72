"""AspectApp: stack aspects rewrite what cdktf wrote, in cdktf's own format, or leave nothing behind."""

import json

import pytest
from cdktf import TerraformOutput

from infra.aspects import stack_json
from infra.aspects.stack_aspects import AspectApp, AspectStack
from infra.constructs.azure.workspace_access import azure_workspace_access
from infra.constructs.contracts import WheelArtifact
from infra.stacks.platform_stack import PlatformStack
from infra.stacks.workspace_stack import WorkspaceStack

# Values whose JSON form JavaScript and Python write differently unless the writer follows JSON.stringify.
AWKWARD_VALUES = {
    "floats": [0.5, 1e-7, 0.000001, 1e21, 1.5e300, 123456789012.25, -2.5e-8, 100.0],
    "integers": [0, -1, 2**53],
    "empty": {"list": [], "map": {}},
    "text": [
        "naïve Zürich",
        'tab\tquote"backslash\\',
        "\u0001\u001f\u007f",
        "emoji \U0001f600",
        "line\u2028sep",
    ],
    "key order": {"b": 1, "B": 2, "_": 3, "é": 4, "\U0001f600": 5, "\uffff": 6, "10": 7, "9": 8},
}


def _cdktf_text(outdir, stack: str) -> str:
    return (outdir / "stacks" / stack / "cdk.tf.json").read_text()


def test_writer_reproduces_cdktf_output_byte_for_byte(platform_config, fake_wheel, tmp_path):
    # Stacks without aspects are left as cdktf wrote them: the reference the writer must match.
    app = AspectApp(outdir=str(tmp_path))
    team_env = next(te for te in platform_config.team_envs if te.key == "churn/dev")
    platform = PlatformStack(app, team_env.names.platform_stack, team_env=team_env)
    WorkspaceStack(
        app,
        team_env.names.workspace_stack,
        team_env=team_env,
        access=azure_workspace_access(team_env, platform.outputs),
        wheel=WheelArtifact(fake_wheel),
    )
    TerraformOutput(AspectStack(app, "awkward"), "values", value=AWKWARD_VALUES)
    app.synth()

    for stack in (team_env.names.platform_stack, team_env.names.workspace_stack, "awkward"):
        written = _cdktf_text(tmp_path, stack)
        assert stack_json.dumps(json.loads(written)) == written, stack


class _Stamp:
    def visit(self, stack) -> None:
        stack.document.setdefault("locals", {})["stamped"] = stack.name


class _Refuse:
    def visit(self, stack) -> None:
        raise RuntimeError(f"{stack.name}: refused")


def _stacks(app: AspectApp, *names: str) -> list[AspectStack]:
    stacks = [AspectStack(app, name) for name in names]
    for stack in stacks:
        TerraformOutput(stack, "greeting", value="hello")
    return stacks


def test_aspect_changes_are_written_and_stacks_without_aspects_keep_cdktf_output(tmp_path):
    app = AspectApp(outdir=str(tmp_path))
    stamped, _plain = _stacks(app, "stamped", "plain")
    stamped.add_aspect(_Stamp())
    app.synth()

    assert json.loads(_cdktf_text(tmp_path, "stamped"))["locals"] == {"stamped": "stamped"}
    assert "locals" not in json.loads(_cdktf_text(tmp_path, "plain"))


def test_a_failing_aspect_leaves_no_stack_of_that_synth_to_deploy(tmp_path):
    app = AspectApp(outdir=str(tmp_path))
    checked, refused = _stacks(app, "checked", "refused")
    checked.add_aspect(_Stamp())
    refused.add_aspect(_Refuse())
    # What `cdktf deploy` left in a stack's working directory earlier is not ours to remove.
    provider_cache = tmp_path / "stacks" / "checked" / ".terraform"
    provider_cache.mkdir(parents=True)

    with pytest.raises(RuntimeError, match="refused: refused"):
        app.synth()

    assert not (tmp_path / "manifest.json").exists()
    assert not list(tmp_path.glob("stacks/*/cdk.tf.json")), "a stack that passed is not left half a synth"
    assert provider_cache.is_dir()
