"""A team whose churn workload leaves a protected env forgets the preset's model and predictions table instead of
destroying them.

`prevent_destroy` guards a resource only while its block is in the configuration: with the block gone, Terraform
plans the destroy without an error (shown here with real Terraform on the built-in `terraform_data`). The
committed config did exactly that to pricing (the churn preset by default until it became a bundle team): its
prod plan destroyed `dbp_pricing_prod.ml.churn` with every version and alias, and the predictions table.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess

import pytest
import yaml

from infra.config import parse_config
from infra.stacks.workspace_workloads import CHURN_PROTECTED_ADDRESSES
from tests.infra.conftest import ROOT, SYNTH_TODAY

SNAPSHOTS = ROOT / "tests/infra/__snapshots__/test_snapshots"


@pytest.fixture(scope="module")
def stacks(fake_wheel, tmp_path_factory) -> dict[str, dict]:
    from infra.app import build_app

    raw = copy.deepcopy(yaml.safe_load((ROOT / "platform.yaml").read_text()))
    config = parse_config(yaml.safe_dump(raw, sort_keys=False))
    outdir = tmp_path_factory.mktemp("cdktf.out")
    chosen = [te for te in config.team_envs if te.key in ("pricing/prod", "pricing/staging")]
    build_app(config, outdir=outdir, wheel=fake_wheel, team_envs=chosen, today=SYNTH_TODAY).synth()
    return {
        name: json.loads((outdir / "stacks" / name / "cdk.tf.json").read_text())
        for name in ("pricing-prod-workspace", "pricing-staging-workspace")
    }


def test_the_addresses_are_the_churn_presets_protected_model_and_table():
    churn_prod = json.loads(
        (SNAPSHOTS / "test_synthesized_stack_matches_its_snapshot[churn-prod-workspace].json").read_text()
    )
    for address in CHURN_PROTECTED_ADDRESSES:
        kind, name = address.split(".")
        assert churn_prod["resource"][kind][name]["lifecycle"]["prevent_destroy"] is True, address
    assert "removed" not in churn_prod  # a team that runs the preset keeps managing them


def test_pricing_prod_forgets_the_churn_model_and_table_and_destroys_neither(stacks):
    removed = stacks["pricing-prod-workspace"]["removed"]
    assert removed == [{"from": a, "lifecycle": {"destroy": False}} for a in CHURN_PROTECTED_ADDRESSES]
    # staging does not protect its data (prevent_destroy is prod's default): there it goes as configured.
    assert "removed" not in stacks["pricing-staging-workspace"]


@pytest.mark.skipif(shutil.which("terraform") is None, reason="needs Terraform (1.7+ for removed blocks)")
def test_terraform_destroys_a_protected_resource_whose_block_is_gone_and_a_removed_block_keeps_it(tmp_path):
    def plan(document: dict) -> str:
        (tmp_path / "main.tf.json").write_text(json.dumps(document))
        run = subprocess.run(
            ["terraform", "plan", "-no-color", "-input=false"], cwd=tmp_path, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        return run.stdout

    protected = {"input": "model", "lifecycle": {"prevent_destroy": True}}
    (tmp_path / "main.tf.json").write_text(json.dumps({"resource": {"terraform_data": {"model": protected}}}))
    for command in (["init", "-input=false"], ["apply", "-auto-approve", "-input=false"]):
        subprocess.run(["terraform", *command], cwd=tmp_path, check=True, capture_output=True)
    assert "terraform_data.model will be destroyed" in plan({})
    kept = plan(
        {
            "removed": [
                {"from": "terraform_data.model", "lifecycle": {"destroy": False}},
                {"from": "terraform_data.never_in_state", "lifecycle": {"destroy": False}},
            ]
        }
    )
    assert "will not be destroyed" in kept and "0 to destroy" in kept


CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


@pytest.mark.skipif(not CHECKOV.is_file(), reason="needs checkov (.venv-checkov, make setup)")
def test_checkov_reads_a_stack_with_removed_blocks(stacks, tmp_path):
    """checkov 3.3 cannot parse `removed` (terraform_json/parser.py hclify): the scan hands it a copy with those
    lines blanked, so the stack is scanned rather than reported as a parse error, and findings keep lines."""
    from infra.cli.checkov_input import parsable_copy
    from infra.cli.scan import scan

    stack = tmp_path / "out" / "stacks" / "pricing-prod-workspace" / "cdk.tf.json"
    stack.parent.mkdir(parents=True)
    stack.write_text(json.dumps(stacks["pricing-prod-workspace"], indent=2))
    copy = parsable_copy(stack, tmp_path / "copies")
    assert copy != stack and "removed" not in json.loads(copy.read_text())
    original, copied = stack.read_text().split("\n"), copy.read_text().split("\n")
    assert len(original) == len(copied)
    assert [i for i, line in enumerate(original) if '"resource"' in line] == [
        i for i, line in enumerate(copied) if '"resource"' in line
    ]
    (result,) = scan(tmp_path / "out", checkov=CHECKOV, config=ROOT / "policy" / "checkov.yaml")
    assert not result.parse_error
