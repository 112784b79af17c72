"""token_traces.cjs: the jsii runtime skips cdktf's per-token stack traces; Errors and other Node.js keep theirs."""

import json
import os
import subprocess

import pytest

from infra import TOKEN_TRACES_PRELOAD

# What cdktf does for every token (a capture onto a plain object), and what any thrown Error carries.
PROBE = """
const token = { stack: "" };
Error.captureStackTrace(token);
const recaptured = new Error("boom");
Error.captureStackTrace(recaptured);
console.log(JSON.stringify({ token: token.stack, error: new Error("boom").stack, recaptured: recaptured.stack }));
"""


def _probe(**env: str) -> dict:
    node = os.environ.get("JSII_NODE", "node")
    environment = {k: v for k, v in os.environ.items() if k not in ("JSII_AGENT", "PLATFORM_TOKEN_TRACES")}
    environment.update(env)
    result = subprocess.run([node, "-e", PROBE], env=environment, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def test_the_jsii_runtime_skips_token_traces_and_keeps_error_stacks():
    assert os.environ["NODE_OPTIONS"].count(str(TOKEN_TRACES_PRELOAD)) == 1, "importing infra sets it once"
    traces = _probe(JSII_AGENT="Python/3.11")
    assert traces["token"] == ""
    assert traces["error"].startswith("Error: boom\n    at ")
    assert traces["recaptured"].startswith("Error: boom\n    at ")
    assert "captureErrorStackTraces" not in traces["recaptured"], (
        "the wrapper stays out of the stack it captures"
    )


@pytest.mark.parametrize("env", [{}, {"JSII_AGENT": "Python/3.11", "PLATFORM_TOKEN_TRACES": "1"}])
def test_other_node_processes_and_the_opt_out_keep_every_trace(env):
    assert "\n    at " in _probe(**env)["token"]


def test_annotations_of_a_synth_carry_no_runtime_frames(tmp_path):
    from cdktf import Annotations, App, TerraformStack

    app = App(outdir=str(tmp_path))
    Annotations.of(TerraformStack(app, "traced")).add_warning("look here")
    app.synth()
    (annotation,) = json.loads((tmp_path / "manifest.json").read_text())["stacks"]["traced"]["annotations"]
    assert annotation["message"] == "look here"
    kept = os.environ.get("PLATFORM_TOKEN_TRACES") == "1"
    assert bool(annotation["stacktrace"]) == kept
