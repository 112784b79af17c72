"""Fakes for everything the lifecycle reaches outside itself, and helpers that build resource groups.

One `events` list records every external step in order (wheel, synth, cdktf, state reads, Azure deletes),
so tests can assert the exact sequence a command produced; `unlocked` lists the steps that ran while the
output directory's lock was free. The fakes fail the way the real things do: the Azure fake is the real
adapter over a client raising azure-core's own exceptions, the runner raises what the real runner raises
for a non-zero exit or a missing tool.
"""

from __future__ import annotations

import fcntl
import json
import os
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import requests
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline.transport import HttpRequest, RequestsTransportResponse

from infra.lifecycle.aws import AwsTaggedResources, TaggedResource
from infra.lifecycle.azure import AzureResourceGroups, ResourceGroupInfo
from infra.lifecycle.databricks import RunProgress
from infra.lifecycle.errors import OperationFailed
from infra.lifecycle.lock import lock_path
from infra.lifecycle.runner import MissingTool, StackCommand, StateVersion
from infra.lifecycle.services import Services
from tests.lifecycle.fake_account import FakeAccount

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
# The subscription the fake Azure adapter works in.
SUBSCRIPTION = "00000000-0000-4000-8000-000000000001"


class Clock:
    """An injected clock whose sleep only moves time forward, so waiting is instant."""

    def __init__(self, now: datetime = NOW):
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


def outdir_locked(outdir: Path) -> bool:
    """Whether some open file description holds the flock of lifecycle/lock.py on ``outdir``."""
    path = lock_path(outdir)
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


class Events(list):
    """The external steps in order; each step taken without the output directory's lock is noted too."""

    def __init__(self, outdir: Path):
        super().__init__()
        self.outdir = outdir
        self.unlocked: list[str] = []

    def append(self, event: str) -> None:
        super().append(event)
        if not outdir_locked(self.outdir):
            self.unlocked.append(event)


class FakeRunner:
    def __init__(self, events: list[str]):
        self.events = events
        self.commands: list[StackCommand] = []
        self.stacks_with_state: set[str] = set()
        self.failing: set[str] = set()
        """Stacks whose cdktf command exits non-zero."""
        self.state_errors: dict[str, Exception] = {}
        """Stacks whose state read raises (e.g. an OSError from a broken terraform)."""
        self.missing: set[str] = set()
        """Tools (npx, terraform) not on PATH."""
        self.outputs: dict[str, dict[str, str]] = {}
        """Stack -> its deployed outputs."""
        self.plans: dict[str, dict] = {}
        """Stack -> the `terraform show -json` of its plan (default: no changes, deployed if it has state)."""
        self.state_versions: dict[str, StateVersion] = {}
        """Stack -> its current state's lineage and serial (default: fake_state_version)."""
        self.states: dict[str, dict] = {}
        """Stack -> its state document (`terraform state pull`); default: none."""
        self.state_reads: list[str] = []
        """Stacks whose whole state was read (kept apart from ``events``, whose order other tests pin)."""

    def require(self, *tools: str) -> None:
        for tool in tools:
            if tool in self.missing:
                raise MissingTool(tool)

    def run(self, command: StackCommand) -> None:
        self.commands.append(command)
        self.events.append(f"{command.action} {command.stack}")
        if command.stack in self.failing:  # what CdktfRunner raises on a non-zero exit
            raise OperationFailed(f"cdktf {command.action} {command.stack} failed (exit 1)")

    def has_state(self, stack: str, *, outdir: Path) -> bool:
        self.events.append(f"state? {stack}")
        if stack in self.state_errors:
            raise self.state_errors[stack]
        return stack in self.stacks_with_state

    def state_version(self, stack: str, *, outdir: Path) -> StateVersion:
        self.events.append(f"serial? {stack}")
        return self.state_versions.get(stack) or fake_state_version(
            stack, deployed=stack in self.stacks_with_state
        )

    def state(self, stack: str, *, outdir: Path) -> str:
        self.state_reads.append(stack)
        return json.dumps(self.states[stack]) if stack in self.states else ""

    def apply_plan(self, stack: str, *, outdir: Path) -> None:
        with zipfile.ZipFile(outdir / "stacks" / stack / "tfplan") as saved:
            self.events.append(f"apply {stack} {saved.read('tfplan').decode()}")
        if stack in self.failing:
            raise OperationFailed(f"terraform apply tfplan of {stack} failed (exit 1)")

    def plan(self, stack: str, *, outdir: Path, lock: bool = True) -> str:
        self.events.append(f"plan {stack}" if lock else f"plan {stack} without the lock")
        if stack in self.failing:  # what CdktfRunner raises when terraform plan fails
            raise OperationFailed(f"cannot plan {stack}: Error: Unsupported argument")
        if stack in self.plans:
            return json.dumps(self.plans[stack])
        return json.dumps(plan_json(deployed=stack in self.stacks_with_state))

    def output(self, stack: str, name: str, *, outdir: Path) -> str:
        self.events.append(f"output? {stack} {name}")
        try:
            return self.outputs[stack][name]
        except KeyError:  # what CdktfRunner raises for an output the state does not have
            raise OperationFailed(
                f'cannot read output {name} of {stack}: Error: Output "{name}" not found'
            ) from None


def fake_state_version(stack: str, *, deployed: bool) -> StateVersion:
    """What a fake stack's state is at: none, or serial 1 of a lineage named after the stack."""
    return StateVersion(f"lineage-of-{stack}", 1) if deployed else StateVersion("", 0)


def write_plan_file(path: Path, *, made_from: StateVersion, content: str) -> None:
    """A saved plan as Terraform writes it: a zip whose `tfstate` is the state the plan was made from."""
    state = {"version": 4, "serial": made_from.serial, "lineage": made_from.lineage, "resources": []}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("tfplan", content)
        archive.writestr("tfstate", json.dumps(state))


def plan_json(
    *, deployed: bool, changes: list[tuple[str, list[str]]] = (), outputs: dict[str, list[str]] | None = None
) -> dict:
    """A `terraform show -json PLANFILE` document: (address, actions) per resource change, actions per root
    output; with ``deployed`` the prior state holds one managed resource."""
    prior = {"values": {"root_module": {"resources": [{"mode": "managed", "type": "x", "name": "y"}]}}}
    return {
        "format_version": "1.2",
        "terraform_version": "1.11.4",
        **({"prior_state": prior} if deployed else {}),
        "resource_changes": [
            {
                "address": address,
                "mode": "managed",
                "type": address.split(".")[0],
                "name": address.split(".")[1],
                "change": {"actions": actions},
            }
            for address, actions in changes
        ],
        "output_changes": {name: {"actions": actions} for name, actions in (outputs or {}).items()},
    }


def arm_error(status: int, code: str, message: str, cls: type[HttpResponseError] = HttpResponseError):
    """An azure-core exception as azure-mgmt-resource raises it: built from a real HTTP response whose body
    is an ARM error (`map_error` picks ResourceNotFoundError for 404, ResourceExistsError for 409)."""
    raw = requests.Response()
    raw.status_code = status
    raw.reason = {403: "Forbidden", 404: "Not Found", 409: "Conflict"}.get(status, "Error")
    raw.headers["Content-Type"] = "application/json"
    raw._content = json.dumps({"error": {"code": code, "message": message}}).encode()
    request = HttpRequest("GET", "https://management.azure.com/subscriptions/s/resourcegroups")
    return cls(response=RequestsTransportResponse(request, raw))


class SdkResourceGroupsOperations:
    """The slice of azure-mgmt-resource's `client.resource_groups` the adapter calls, raising SDK errors."""

    def __init__(self, fakes: FakeResourceGroups):
        self._fakes = fakes

    def list(self):
        self._fakes.lists += 1
        if self._fakes.list_error:
            raise self._fakes.list_error
        return iter(
            SimpleNamespace(
                name=group.name,
                tags=dict(group.tags) or None,
                managed_by=group.managed_by,
                properties=SimpleNamespace(provisioning_state=group.provisioning_state),
            )
            for group in self._fakes.groups
        )

    def begin_delete(self, name: str):
        self._fakes.events.append(f"delete group {name}")
        if name in self._fakes.delete_errors:
            raise self._fakes.delete_errors[name]
        return SimpleNamespace(result=lambda: self._fakes.deleted.append(name))


class SdkResourcesOperations:
    """The slice of azure-mgmt-resource's `client.resources` the adapter calls (budgets, by ID)."""

    def __init__(self, fakes: FakeResourceGroups):
        self._fakes = fakes

    def begin_delete_by_id(self, resource_id: str, *, api_version: str):
        self._fakes.events.append(f"delete {resource_id.removeprefix(f'/subscriptions/{SUBSCRIPTION}')}")
        return SimpleNamespace(result=lambda: self._fakes.deleted_by_id.append((resource_id, api_version)))


class FakeResourceGroups:
    """Resource groups held here, served through the real AzureResourceGroups adapter."""

    def __init__(self, events: list[str]):
        self.events = events
        self.groups: list[ResourceGroupInfo] = []
        self.deleted: list[str] = []
        self.deleted_by_id: list[tuple[str, str]] = []
        """(ARM ID, API version) of each resource deleted by ID (budgets, the hub's side of an env)."""
        self.lists = 0
        self.list_error: Exception | None = None
        """An azure-core exception every list raises (no login, no role, ...)."""
        self.delete_errors: dict[str, Exception] = {}
        """Per group: the azure-core exception its delete raises."""

    def adapter(self) -> AzureResourceGroups:
        client = SimpleNamespace(
            resource_groups=SdkResourceGroupsOperations(self), resources=SdkResourcesOperations(self)
        )
        return AzureResourceGroups(client, subscription_id=SUBSCRIPTION)


class FakeTaggedResources:
    """The AWS resources of each region and their tags, served through the real AwsTaggedResources adapter over
    a stand-in boto3 session: IAM roles only through IAM, VPC endpoints only through EC2, the rest through the
    Resource Groups Tagging API, as on AWS. A listing fails with botocore's own exceptions."""

    def __init__(self):
        self.resources: dict[str, list[TaggedResource]] = {}
        """Region -> its resources."""
        self.list_errors: dict[str, Exception] = {}
        """Region -> the botocore exception every call there raises (no credentials, access denied, ...)."""
        self.listed: list[tuple[str, dict[str, str]]] = []
        """(region, tags) per listing."""

    def region(self, region: str) -> AwsTaggedResources:
        fakes = self

        class Listing(AwsTaggedResources):
            def list(self, tags):
                fakes.listed.append((region, dict(tags)))
                return super().list(tags)

        return Listing(
            SimpleNamespace(client=lambda service, region_name: _FakeAwsClient(self, region_name)), region
        )


class _FakeAwsClient:
    """The slice of the boto3 clients (tagging, iam, ec2, kms) that AwsTaggedResources calls."""

    def __init__(self, fakes: FakeTaggedResources, region: str):
        self._fakes, self._region = fakes, region

    def _resources(self, kind: str) -> list[TaggedResource]:
        if self._region in self._fakes.list_errors:
            raise self._fakes.list_errors[self._region]
        found = self._fakes.resources.get(self._region, [])
        roles = [r for r in found if ":role/" in r.arn]
        endpoints = [r for r in found if r.arn.startswith("vpc-endpoint/")]
        return {"iam": roles, "ec2": endpoints}.get(kind, [r for r in found if r not in roles + endpoints])

    def get_paginator(self, operation: str):
        return SimpleNamespace(paginate=lambda **kwargs: [self._page(operation, **kwargs)])

    def _page(self, operation: str, TagFilters=(), Filters=()):
        if operation == "get_resources":
            wanted = {f["Key"]: f["Values"] for f in TagFilters}
            return {
                "ResourceTagMappingList": [
                    {"ResourceARN": r.arn, "Tags": _tag_list(r.tags)}
                    for r in self._resources("tagging")
                    if all(r.tags.get(key) in values for key, values in wanted.items())
                ]
            }
        if operation == "list_roles":
            return {
                "Roles": [{"RoleName": r.arn.rsplit("/", 1)[1], "Arn": r.arn} for r in self._resources("iam")]
            }
        if operation == "describe_vpc_endpoints":
            wanted = {f["Name"].removeprefix("tag:"): f["Values"] for f in Filters}
            return {
                "VpcEndpoints": [
                    {"VpcEndpointId": r.arn.split("/", 1)[1], "State": "available", "Tags": _tag_list(r.tags)}
                    for r in self._resources("ec2")
                    if all(r.tags.get(key) in values for key, values in wanted.items())
                ]
            }
        raise AssertionError(f"unexpected paginator {operation}")

    def list_role_tags(self, RoleName: str):
        (role,) = [r for r in self._resources("iam") if r.arn.endswith(f"/{RoleName}")]
        return {"Tags": _tag_list(role.tags)}

    def describe_nat_gateways(self, NatGatewayIds):
        return {"NatGateways": [{"NatGatewayId": id, "State": "available"} for id in NatGatewayIds]}

    def describe_key(self, KeyId: str):
        return {"KeyMetadata": {"KeyState": "Enabled"}}


def _tag_list(tags) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


class FakeWorkspace:
    """A scripted Databricks workspace: each get of the run returns the next scripted progress."""

    def __init__(self):
        self.jobs: dict[str, list[int]] = {}
        self.progress: list[RunProgress] = []
        self.errors: dict[int, str] = {}
        self.aliases: list[int | None] = [None, None]
        """alias_version answers, in call order (before the run, after it)."""
        self.started: list[int] = []
        self.cancelled: list[int] = []
        self.polls = 0
        self.poll_errors: dict[int, Exception] = {}
        """Poll number (1-based) -> the databricks-sdk exception that poll raises."""
        self.cancel_error: Exception | None = None

    def job_ids(self, name: str) -> list[int]:
        return self.jobs.get(name, [])

    def run_now(self, job_id: int) -> int:
        self.started.append(job_id)
        return 900 + job_id

    def run(self, run_id: int) -> RunProgress:
        self.polls += 1
        if self.polls in self.poll_errors:
            raise self.poll_errors[self.polls]
        return self.progress.pop(0) if len(self.progress) > 1 else self.progress[0]

    def run_error(self, run_id: int) -> str | None:
        return self.errors.get(run_id)

    def cancel(self, run_id: int) -> None:
        if self.cancel_error:
            raise self.cancel_error
        self.cancelled.append(run_id)

    def alias_version(self, model: str, alias: str) -> int | None:
        assert alias == "challenger"
        return self.aliases.pop(0)


class FakeMetastoreView:
    """A workspace's Unity Catalog as the deployer sees it; healthy by default (deployer owns the metastore)."""

    def __init__(self, caller: str = "3f2b6c1e-8d4a-4b7e-9c0d-2a1b3c4d5e6f"):
        self.caller_name = caller
        self.groups: frozenset[str] = frozenset()
        self.assigned: str | None = "11111111-2222-4333-8444-555555555555"
        self.owner: str | None = caller
        self.privileges: dict[str, set[str]] = {}
        self.reads: list[str] = []
        self.error: Exception | None = None
        """Raised by every read, the way the SDK fails (auth, network, API errors)."""

    def caller(self):
        from infra.lifecycle.preflight import Caller

        self._read("caller")
        return Caller(self.caller_name, self.groups)

    def assigned_metastore(self) -> str | None:
        self._read("assigned")
        return self.assigned

    def metastore_owner(self, metastore_id: str) -> str | None:
        self._read("owner")
        return self.owner

    def effective_privileges(self, metastore_id: str) -> dict[str, set[str]]:
        self._read("privileges")
        return self.privileges

    def _read(self, what: str) -> None:
        self.reads.append(what)
        if self.error is not None:
            raise self.error


@dataclass
class Fakes:
    tmp: Path
    events: list[str] = field(default_factory=list)
    clock: Clock = field(default_factory=Clock)
    interactive: bool = False
    answers: list[str] = field(default_factory=list)
    owner: str | None = "dev@example.com"
    synthesized: list[tuple[list[str], Path, Path]] = field(default_factory=list)
    """(team-env keys, outdir, wheel) per synth."""
    synthesized_envs: list = field(default_factory=list)
    stack_documents: dict[str, str] = field(default_factory=dict)
    """Stack -> the cdk.tf.json the fake synth writes (default: one naming the stack)."""
    public_ip: str = "203.0.113.10"
    """This runner's public address as the fake "what is my IP" service answers (on pricing/prod's list)."""
    address_lookups: int = 0

    def __post_init__(self):
        self.events = Events(self.outdir)
        self.runner = FakeRunner(self.events)
        self.groups = FakeResourceGroups(self.events)
        self.workspace = FakeWorkspace()
        self.metastore = FakeMetastoreView()
        self.aws = FakeTaggedResources()
        self.account = FakeAccount(self.events)
        self.smoke_targets: list = []
        """The SmokeTarget each training workspace was opened for."""
        self.workspace_urls: list[str | None] = []
        """The workspace URL each preflight was pointed at (None: an Azure workspace, found by its ARM ID)."""
        self.wheel = self.tmp / "dist" / "churn-0.1.0-py3-none-any.whl"

    @property
    def outdir(self) -> Path:
        return self.tmp / "cdktf.out"

    def build_wheel(self) -> Path:
        self.events.append("build wheel")
        self.wheel.parent.mkdir(parents=True, exist_ok=True)
        self.wheel.write_bytes(b"wheel")
        return self.wheel

    def synthesize(self, config, team_envs, outdir, wheel) -> None:
        stacks = [s for te in team_envs for s in te.stacks.values()]
        self.events.append("synth " + " ".join(stacks))
        for stack in stacks:  # what a plan hashes and a saved plan is checked against
            (outdir / "stacks" / stack).mkdir(parents=True, exist_ok=True)
            (outdir / "stacks" / stack / "cdk.tf.json").write_text(
                self.stack_documents.get(stack, f'{{"{stack}": 1}}')
            )
        self.synthesized.append(([te.key for te in team_envs], outdir, wheel))
        self.synthesized_envs.extend(team_envs)

    def ask(self, prompt: str) -> str:
        self.events.append(f"ask {prompt}")
        return self.answers.pop(0)

    def services(self) -> Services:
        return Services(
            runner=self.runner,
            build_wheel=self.build_wheel,
            synthesize=self.synthesize,
            resource_groups=lambda config: self.groups.adapter(),
            training_workspace=self.training_workspace,
            clock=self.clock,
            sleep=self.clock.sleep,
            is_interactive=lambda: self.interactive,
            ask=self.ask,
            default_owner=lambda: self.owner,
            outdir=self.outdir,
            metastore_view=self.metastore_view,
            tagged_resources=self.aws.region,
            public_address=self.public_address,
            account_network=self.account.client,
        )

    def public_address(self) -> str:
        self.address_lookups += 1
        return self.public_ip

    def training_workspace(self, config, target):
        self.smoke_targets.append(target)
        return self.workspace

    def metastore_view(self, config, team_env, workspace_url=None):
        self.workspace_urls.append(workspace_url)
        return self.metastore

    def nothing_happened(self) -> bool:
        """No wheel, no synth, no cdktf, no delete: what every bad-input case must leave behind."""
        return self.events == [] and not self.wheel.exists() and not self.outdir.exists()


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.strip().splitlines()


def ephemeral_tags(
    *, team="churn", env="pr1", base="dev", owner="dev@example.com", expires="2026-11-22T10:00:00Z", slot="0"
) -> dict[str, str]:
    """The tags `env up` writes on an ephemeral env's resource group (TeamEnv.tags + network-slot)."""
    return {
        "team": team,
        "env": env,
        "cost-center": "CC-4711",
        "managed-by": "cdktf-platform",
        "ephemeral": "true",
        "expires-at": expires,
        "owner": owner,
        "base-env": base,
        "network-slot": slot,
    }


def ephemeral_group(**tags) -> ResourceGroupInfo:
    values = ephemeral_tags(**tags)
    return ResourceGroupInfo(name=f"rg-dbp-{values['team']}-{values['env']}", tags=values)


def permanent_group(team="churn", env="dev") -> ResourceGroupInfo:
    return ResourceGroupInfo(
        name=f"rg-dbp-{team}-{env}",
        tags={"team": team, "env": env, "cost-center": "CC-4711", "managed-by": "cdktf-platform"},
    )


def aws_env_resources(
    *, team="risk", env="pr1", base="dev", expires="2026-11-22T10:00:00Z", slot="0", **changed
) -> list[TaggedResource]:
    """What `env up` leaves tagged in AWS for one ephemeral env: resources the Resource Groups Tagging API lists
    and the IAM roles and VPC endpoint only the fallbacks list, each with the env's tags (``changed`` overrides
    tags on the first resource only, e.g. a resource that missed an update)."""
    tags = ephemeral_tags(team=team, env=env, base=base, expires=expires, slot=slot) | {
        "cost-center": "CC-2024"
    }
    stem = f"dbp-{team}-{env}"
    arns = [
        f"arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-{env}",
        f"arn:aws:s3:::{stem}-root-0a1b2c",
        f"arn:aws:iam::123456789012:role/{stem}-databricks-cross-account",
        f"vpc-endpoint/vpce-{env}",
    ]
    return [
        TaggedResource(arn, {**tags, **(changed if index == 0 else {})}) for index, arn in enumerate(arns)
    ]
