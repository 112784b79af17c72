"""`platform env reap` against AWS resources that really exist: three platform stacks applied by real Terraform
against moto (an expired ephemeral env, an unexpired one, the permanent risk/dev), then the reaper run through the
CLI. It finds the envs by their tags through boto3 (the Resource Groups Tagging API plus the IAM and EC2
fallbacks), destroys the expired env's platform stack with real Terraform, and never touches the other two.

The Databricks stacks (account, workspace) need the Databricks API, so they stay behind the lifecycle's cdktf fake:
the runner here sends `<team>-<env>-platform` stacks to Terraform in the directory the reaper synthesized them into
(with the test's provider override beside them) and the others to the fake. tests/terraform_moto.py says where
Terraform and the provider mirror are found.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from infra.lifecycle.runner import StackCommand, state_has_resources
from tests.lifecycle.fakes import FakeResourceGroups, FakeRunner
from tests.terraform_moto import MotoServer, TerraformDir, TerraformTools, locate_tools

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"


class PlatformStacksThroughTerraform:
    """A StackRunner: platform stacks (aws provider only) through real Terraform against moto, in the directory
    the lifecycle synthesized them into, state outside it; account and workspace stacks through the fake."""

    def __init__(self, tools: TerraformTools, moto: MotoServer, workdir: Path, fake: FakeRunner) -> None:
        self.tools, self.moto, self.workdir, self.fake = tools, moto, workdir, fake
        self.asked: list[str] = []
        """Every stack whose state was read or that a command ran on, in order."""
        self.commands: list[str] = []

    def terraform(self, stack: str, outdir: Path) -> TerraformDir:
        directory = TerraformDir(
            self.tools, outdir / "stacks" / stack, self.workdir, self.moto, in_place=True
        )
        # A synth replaces the stack directory; the state lives beside it, as the stack's own local backend keeps it.
        directory.write_override(backend={"local": {"path": str(self.workdir / f"{stack}.tfstate")}})
        directory.run("init", "-input=false")
        return directory

    def require(self, *tools: str) -> None:
        return None

    def has_state(self, stack: str, *, outdir: Path) -> bool:
        self.asked.append(stack)
        if not stack.endswith("-platform"):
            return self.fake.has_state(stack, outdir=outdir)
        pulled = self.terraform(stack, outdir).run("state", "pull")
        return state_has_resources(pulled.stdout)

    def run(self, command: StackCommand) -> None:
        self.asked.append(command.stack)
        self.commands.append(f"{command.action} {command.stack}")
        if not command.stack.endswith("-platform"):
            return self.fake.run(command)
        verb = "destroy" if command.action == "destroy" else "apply"
        self.terraform(command.stack, command.outdir).run(verb, "-auto-approve", "-input=false")
        return None

    def output(self, stack: str, name: str, *, outdir: Path) -> str:
        return self.fake.output(stack, name, outdir=outdir)


@pytest.fixture(scope="module")
def moto():
    with MotoServer() as server:
        yield server


def test_reap_destroys_the_expired_aws_env_with_terraform_and_never_touches_the_others(
    moto, fake_wheel, tmp_path, monkeypatch, capsys
):
    from infra.cli import lifecycle as lifecycle_cli
    from infra.cli.main import main
    from infra.config import load_config
    from infra.lifecycle.aws import AwsTaggedResources
    from infra.lifecycle.ephemeral import cut
    from infra.lifecycle.services import Services, _synthesize

    tools = locate_tools()
    for name, value in moto.client_environ().items():
        monkeypatch.setenv(name, value)
    aws = AwsTaggedResources.for_region(REGION)
    config_path = ROOT / "platform.yaml"
    config = load_config(config_path)
    now = datetime.now(UTC)
    dev = next(te for te in config.team_envs if te.key == "risk/dev")
    expired = cut(dev, name="pr1", slot=0, owner="ana@example.com", expires_at=now - timedelta(hours=1))
    unexpired = cut(dev, name="pr2", slot=1, owner="bo@example.com", expires_at=now + timedelta(hours=8))

    # The three envs' platform stacks, applied for real. (The Databricks stacks "hold state" in the fake.)
    outdir = tmp_path / "cdktf.out"
    runner = PlatformStacksThroughTerraform(tools, moto, tmp_path, FakeRunner([]))
    _synthesize(config, [expired, unexpired, dev], outdir, fake_wheel)
    deploys = [
        StackCommand("deploy", te.names.platform_stack, outdir, True) for te in (expired, unexpired, dev)
    ]
    # Side by side: each apply mostly waits on moto, and the stacks share nothing but the account.
    with ThreadPoolExecutor(max_workers=len(deploys)) as pool:
        list(pool.map(runner.run, deploys))
    runner.fake.stacks_with_state |= {
        stack
        for te in (expired, unexpired, dev)
        for stack in (te.names.account_stack, te.names.workspace_stack)
    }
    before = {
        key: aws.list({"team": "risk", "env": key})
        for key in ("pr1", "pr2", "dev")  # what only IAM and EC2 list counts too: roles, VPC endpoints
    }
    for key, resources in before.items():
        kinds = {
            kind
            for kind in (":vpc/", ":role/", "vpc-endpoint/", ":s3:::")
            if any(kind in r.arn for r in resources)
        }
        assert len(kinds) == 4, f"risk/{key} lacks tagged resources: {[r.arn for r in resources]}"
    runner.asked.clear()
    runner.commands.clear()

    services = Services(
        runner=runner,
        build_wheel=lambda: fake_wheel,
        synthesize=_synthesize,  # the real synth: the reaper derives the expired env again from its tags
        resource_groups=lambda config: FakeResourceGroups([]).adapter(),  # the Azure teams have no envs
        training_workspace=lambda config, target: pytest.fail("a reap runs no job"),
        clock=lambda: datetime.now(UTC),
        sleep=lambda seconds: None,
        is_interactive=lambda: False,
        ask=lambda prompt: pytest.fail("a reap asks nothing"),
        default_owner=lambda: None,
        outdir=outdir,
        tagged_resources=AwsTaggedResources.for_region,
    )
    monkeypatch.setattr(lifecycle_cli, "services_factory", lambda: services)
    with pytest.raises(SystemExit) as exited:
        main(["env", "reap", "--config", str(config_path)])
    out, err = capsys.readouterr()
    assert exited.value.code == 0, out + err
    assert out.splitlines()[-1] == "reaped 1, failed 0, not expired 1"

    # The expired env: its three stacks destroyed, workspace first; nothing tagged with it is left, its state is empty.
    assert runner.commands == [
        "destroy risk-pr1-workspace",
        "destroy risk-pr1-account",
        "destroy risk-pr1-platform",
    ]
    assert aws.list({"team": "risk", "env": "pr1"}) == []
    assert not runner.has_state("risk-pr1-platform", outdir=outdir)
    # The unexpired and the permanent env: never asked about, never passed to Terraform, every resource still there.
    assert not [stack for stack in runner.asked if "-pr2-" in stack or "-dev-" in stack]
    assert [r.arn for r in aws.list({"team": "risk", "env": "pr2"})] == [r.arn for r in before["pr2"]]
    assert [r.arn for r in aws.list({"team": "risk", "env": "dev"})] == [r.arn for r in before["dev"]]
    for stack in ("risk-pr2-platform", "risk-dev-platform"):
        assert state_has_resources((tmp_path / f"{stack}.tfstate").read_text()), stack
