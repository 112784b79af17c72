"""Running cdktf (and terraform, to read state) on stacks the platform CLI has already synthesized."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from infra.lifecycle.errors import InputProblem, OperationFailed
from infra.lifecycle.lock import held_lock_fds

CDKTF = ("npx", "--no-install", "cdktf")
# What to install when a tool the lifecycle runs is missing.
MIN_TERRAFORM = (1, 7)  # `removed` blocks (infra/stacks/workspace_workloads.py) need 1.7
TOOL_HINTS = {
    "npx": "install Node >= 20, then `make setup` installs the pinned cdktf CLI",
    "terraform": f"install Terraform >= {'.'.join(map(str, MIN_TERRAFORM))}",
}
# The CLI synthesizes exactly the stacks to run before cdktf starts (--skip-synth). A no-op app makes sure
# cdktf can never synthesize something else instead: cdktf.json's app builds only the permanent envs.
NOOP_APP = "true"
# `platform plan` saves each stack's plan here, in the stack's directory: `terraform apply tfplan` applies exactly it.
PLAN_FILE = "tfplan"
# How long a plan or a saved plan's apply waits for another run's state lock (Terraform's default: not at all).
LOCK_TIMEOUT = "10m"


@dataclass(frozen=True)
class StackCommand:
    """One `cdktf deploy|destroy` of one stack; str() is the exact command line that runs."""

    action: Literal["deploy", "destroy"]
    stack: str
    outdir: Path
    auto_approve: bool

    def argv(self) -> list[str]:
        argv = [
            *CDKTF,
            self.action,
            self.stack,
            "--app",
            NOOP_APP,
            "--output",
            str(self.outdir),
            "--skip-synth",
            # One stack per command, in the order the CLI chooses. Without the flag cdktf refuses to deploy a
            # workspace stack without its platform stack (and to destroy a platform stack without its
            # workspace stack) in the same command.
            "--ignore-missing-stack-dependencies",
        ]
        if self.auto_approve:
            argv.append("--auto-approve")
        return argv

    def __str__(self) -> str:
        return shlex.join(self.argv())


class MissingTool(InputProblem):
    """A program the command runs is not installed (or, given ``found``, too old): one line naming it, exit 2."""

    def __init__(self, tool: str, *, found: str | None = None):
        problem = "not found on PATH" if found is None else found
        super().__init__(tool, f"{problem}; {TOOL_HINTS.get(tool, 'install it')}")


class StackRunner(Protocol):
    def require(self, *tools: str) -> None:
        """MissingTool for the first of ``tools`` (e.g. npx, terraform) that is not installed, or too old."""

    def run(self, command: StackCommand) -> None:
        """Run ``command`` with its output streaming to the terminal; OperationFailed on a non-zero exit."""

    def has_state(self, stack: str, *, outdir: Path) -> bool:
        """Whether the stack's Terraform state (wherever its backend keeps it) still holds resources."""

    def output(self, stack: str, name: str, *, outdir: Path) -> str:
        """The value of the deployed stack's output ``name`` (read from its state); OperationFailed without it."""

    def state_version(self, stack: str, *, outdir: Path) -> StateVersion:
        """The lineage and serial of the stack's current state (("", 0) when it has none)."""

    def state(self, stack: str, *, outdir: Path) -> str:
        """The stack's current state as `terraform state pull` prints it ("" when it has none)."""

    def apply_plan(self, stack: str, *, outdir: Path) -> None:
        """`terraform apply` of the saved PLAN_FILE in the stack's directory, output streaming; OperationFailed on a
        non-zero exit (Terraform refuses a plan whose state changed since it was made)."""

    def plan(self, stack: str, *, outdir: Path, lock: bool = True) -> str:
        """`terraform plan` of the synthesized stack, saved as PLAN_FILE in its directory; the plan as
        `terraform show -json` prints it. OperationFailed when Terraform cannot plan it. Without ``lock`` the
        state lock is not taken (a preview that is never applied)."""


Run = Callable[..., subprocess.CompletedProcess]
# What `terraform output -raw NAME` prints on stdout, exiting 0, when the state has no outputs at all (no state yet).
NO_OUTPUTS_WARNING = "Warning: No outputs found"


@dataclass(frozen=True)
class StateVersion:
    """Which state a plan was made from: Terraform refuses to apply a saved plan whose state's lineage or serial
    differs from the current state's ("Saved plan is stale")."""

    lineage: str
    serial: int

    @classmethod
    def of(cls, state_json: str) -> StateVersion:
        """From a state file's JSON (`terraform state pull`, or the `tfstate` inside a plan file); ("", 0) for none."""
        if not state_json.strip():
            return cls("", 0)
        state = json.loads(state_json)
        return cls(state.get("lineage") or "", int(state.get("serial") or 0))

    def __str__(self) -> str:
        return f"serial {self.serial}"


def run_until_stopped(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    """subprocess.run, except that Ctrl-C lets the command stop on its own instead of killing it.

    The command is in our process group, so it got the same SIGINT; cdktf answers it by sending Ctrl-C into
    terraform's terminal, and terraform then finishes the calls in flight, writes the state and releases the
    state lock. subprocess.run would SIGKILL cdktf 0.25 s after the interrupt, cutting that short and leaving
    the lock behind. A second Ctrl-C still kills it.
    """
    with subprocess.Popen(argv, **kwargs) as process:
        try:
            return subprocess.CompletedProcess(argv, process.wait())
        except KeyboardInterrupt:
            try:
                process.wait()
            except KeyboardInterrupt:
                process.kill()
            raise


class CdktfRunner:
    """The real runner: `npx cdktf` for deploy/destroy, `terraform` in the stack directory to read state."""

    def __init__(
        self, *, cwd: Path | None = None, run: Run = subprocess.run, stream: Run = run_until_stopped
    ) -> None:
        self._cwd = cwd
        """Where npx runs: the project root, whose node_modules holds the pinned cdktf CLI."""
        self._run = run
        """Runs the commands whose output is read (terraform state)."""
        self._stream = stream
        """Runs cdktf deploy/destroy, output streaming to the terminal."""

    def require(self, *tools: str) -> None:
        for tool in tools:
            if shutil.which(tool) is None:
                raise MissingTool(tool)
            if tool == "terraform":
                self._require_terraform_version()

    def _require_terraform_version(self) -> None:
        shown = self._tool(["terraform", "version", "-json"], capture_output=True, text=True, check=False)
        try:
            version = json.loads(shown.stdout)["terraform_version"]
            major_minor = tuple(int(part) for part in version.split(".")[:2])
        except (ValueError, KeyError, TypeError):  # `version -json` arrived in 0.13
            raise MissingTool(
                "terraform", found="cannot tell its version (`terraform version -json`)"
            ) from None
        if major_minor < MIN_TERRAFORM:
            raise MissingTool("terraform", found=f"Terraform {version} is too old")

    def run(self, command: StackCommand) -> None:
        # Inherited stdin/stdout: output streams as cdktf writes it, and without --auto-approve the user
        # answers cdktf's own approval prompt.
        result = self._tool(command.argv(), launch=self._stream, cwd=self._cwd)
        if result.returncode != 0:
            raise OperationFailed(f"cdktf {command.action} {command.stack} failed (exit {result.returncode})")

    def has_state(self, stack: str, *, outdir: Path) -> bool:
        return state_has_resources(self._pull_state(stack, outdir))

    def state_version(self, stack: str, *, outdir: Path) -> StateVersion:
        return StateVersion.of(self._pull_state(stack, outdir))

    def state(self, stack: str, *, outdir: Path) -> str:
        return self._pull_state(stack, outdir)

    def _pull_state(self, stack: str, outdir: Path) -> str:
        chdir = self._init(stack, outdir, doing="read the state")
        pulled = self._tool(
            ["terraform", chdir, "state", "pull"], capture_output=True, text=True, check=False
        )
        if pulled.returncode != 0:
            raise OperationFailed(f"cannot read the state of {stack}: {_error_line(pulled)}")
        return pulled.stdout

    def output(self, stack: str, name: str, *, outdir: Path) -> str:
        self._init(stack, outdir, doing=f"read output {name}")
        shown = self._tool(
            terraform_output_argv(stack, name, outdir=outdir), capture_output=True, text=True, check=False
        )
        if shown.returncode != 0 or not shown.stdout.strip():
            raise OperationFailed(f"cannot read output {name} of {stack}: {_error_line(shown)}")
        if shown.stdout.strip().startswith(NO_OUTPUTS_WARNING):  # exit 0, the warning on stdout: no value
            raise OperationFailed(
                f'cannot read output {name} of {stack}: Error: Output "{name}" not found (the state has no outputs)'
            )
        return shown.stdout.strip()

    def plan(self, stack: str, *, outdir: Path, lock: bool = True) -> str:
        self._init(stack, outdir, doing="plan")
        planned = self._tool(
            terraform_plan_argv(stack, outdir=outdir, lock=lock), capture_output=True, text=True, check=False
        )
        if planned.returncode not in (0, 2):  # -detailed-exitcode: 0 no changes, 2 changes, 1 error
            raise OperationFailed(f"cannot plan {stack}: {_error_line(planned)}")
        shown = self._tool(
            ["terraform", _chdir(stack, outdir), "show", "-json", "-no-color", PLAN_FILE],
            capture_output=True,
            text=True,
            check=False,
        )
        if shown.returncode != 0:
            raise OperationFailed(f"cannot read the plan of {stack}: {_error_line(shown)}")
        return shown.stdout

    def apply_plan(self, stack: str, *, outdir: Path) -> None:
        self._init(stack, outdir, doing="apply the plan")
        applied = self._tool(terraform_apply_plan_argv(stack, outdir=outdir), launch=self._stream)
        if applied.returncode != 0:
            raise OperationFailed(
                f"terraform apply {PLAN_FILE} of {stack} failed (exit {applied.returncode})"
            )

    def _init(self, stack: str, outdir: Path, *, doing: str) -> str:
        """`terraform init` in the stack's directory (its backend); the -chdir argument for what follows."""
        init = self._tool(
            terraform_init_argv(stack, outdir=outdir), capture_output=True, text=True, check=False
        )
        if init.returncode != 0:
            raise OperationFailed(f"cannot {doing} of {stack}: terraform init failed: {_error_line(init)}")
        return _chdir(stack, outdir)

    def _tool(self, argv: list[str], *, launch: Run | None = None, **kwargs) -> subprocess.CompletedProcess:
        if (
            held := held_lock_fds()
        ):  # killed, we leave cdktf running: it keeps the output locked until it ends
            kwargs["pass_fds"] = held
        try:
            return (launch or self._run)(argv, **kwargs)
        except FileNotFoundError:  # PATH changed since `require`, or nobody asked
            raise MissingTool(argv[0]) from None


def _chdir(stack: str, outdir: Path) -> str:
    return f"-chdir={outdir / 'stacks' / stack}"


def terraform_init_argv(stack: str, *, outdir: Path) -> list[str]:
    """`terraform init` in a synthesized stack's directory: its backend, before its state is read."""
    return ["terraform", _chdir(stack, outdir), "init", "-input=false", "-no-color"]


def terraform_plan_argv(stack: str, *, outdir: Path, lock: bool = True) -> list[str]:
    """Plan the stack into PLAN_FILE (after terraform_init_argv); exit 0 without changes, 2 with, 1 on error.
    A locked plan waits LOCK_TIMEOUT for another run's lock instead of failing at once."""
    return [
        "terraform",
        _chdir(stack, outdir),
        "plan",
        "-input=false",
        "-no-color",
        "-detailed-exitcode",
        f"-lock-timeout={LOCK_TIMEOUT}" if lock else "-lock=false",
        f"-out={PLAN_FILE}",
    ]


def terraform_apply_plan_argv(stack: str, *, outdir: Path) -> list[str]:
    """Apply exactly the saved PLAN_FILE (after terraform_init_argv): no new plan, no prompt; a plan or drift check
    holding the state lock is waited for (LOCK_TIMEOUT), not a failed apply halfway through a rollout."""
    return [
        "terraform",
        _chdir(stack, outdir),
        "apply",
        "-input=false",
        f"-lock-timeout={LOCK_TIMEOUT}",
        PLAN_FILE,
    ]


def terraform_output_argv(stack: str, name: str, *, outdir: Path) -> list[str]:
    """The value of the stack's output ``name``, read from its state (after terraform_init_argv)."""
    return ["terraform", _chdir(stack, outdir), "output", "-raw", "-no-color", name]


def state_has_resources(state_json: str) -> bool:
    """`terraform state pull` prints nothing when there is no state, else the state with its resources."""
    if not state_json.strip():
        return False
    resources = json.loads(state_json).get("resources") or []
    return any(resource.get("mode") == "managed" for resource in resources)


def _error_line(result: subprocess.CompletedProcess) -> str:
    """Terraform's first `Error:` line (diagnostics come framed in box-drawing characters), else its last line."""
    text = result.stderr or result.stdout or ""
    lines = [stripped for line in text.splitlines() if (stripped := line.strip("│╷╵ \t"))]
    errors = [line for line in lines if line.startswith("Error:")]
    if errors:
        return errors[0]
    return lines[-1] if lines else f"exit {result.returncode}"
