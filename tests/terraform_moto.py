"""Real Terraform against moto: find Terraform and the hashicorp/aws mirror, run moto on a loopback port, and point
a synthesized stack at it through an override file (the synthesized stack itself stays deployable).

Where the tools are (a fresh CI machine of this kind finds them the same way):
- PLATFORM_TERRAFORM: the terraform binary (default: `terraform` on PATH); Terraform 1.11.x.
- PLATFORM_TF_PROVIDER_MIRROR: a filesystem mirror holding registry.terraform.io/hashicorp/aws/<AWS_PROVIDER>
  (default: the first of MIRROR_CANDIDATES that holds it, i.e. Terraform's implied local mirror directories and
  /opt/tf-plugins). Offline machines need one. Where none is found (and none is named), Terraform installs the
  pinned provider from the registry the normal way, into the project-local PLUGIN_CACHE, once per machine: a
  platform engineer's machine with a network needs no mirror.
- PLATFORM_SKIP_TERRAFORM=1 skips these tests instead of failing, outside CI only (CI=true never skips).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

AWS_PROVIDER = "5.100.0"
TERRAFORM_MINOR = "1.11."
MIRROR_CANDIDATES = (
    "/opt/tf-plugins",
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
)
PROVIDER_PATH = f"registry.terraform.io/hashicorp/aws/{AWS_PROVIDER}/linux_amd64"
PLUGIN_CACHE = Path(__file__).resolve().parents[1] / ".work" / "terraform-plugins"
MOTO_SERVICES = ("ec2", "s3", "iam", "kms", "sts", "logs", "ssm", "resourcegroupstaggingapi")
FAKE_KEY = "testing"


@dataclass(frozen=True)
class TerraformTools:
    terraform: Path
    mirror: Path | None
    """None: no local mirror; Terraform installs the provider from the registry into PLUGIN_CACHE."""

    def cli_config(self) -> str:
        """The Terraform CLI configuration (TF_CLI_CONFIG_FILE) that installs the aws provider from the mirror, or
        from the registry through the project's plugin cache."""
        if self.mirror is None:
            return f'plugin_cache_dir = "{PLUGIN_CACHE}"\n'
        return (
            "provider_installation {\n"
            f'  filesystem_mirror {{\n    path = "{self.mirror}"\n    include = ["registry.terraform.io/hashicorp/aws"]\n  }}\n'
            '  direct {\n    exclude = ["registry.terraform.io/hashicorp/aws"]\n  }\n}\n'
        )


def _missing(what: str) -> None:
    if os.environ.get("PLATFORM_SKIP_TERRAFORM") == "1" and os.environ.get("CI") != "true":
        pytest.skip(f"{what} (PLATFORM_SKIP_TERRAFORM=1)")
    pytest.fail(what, pytrace=False)


def locate_tools() -> TerraformTools:
    terraform = os.environ.get("PLATFORM_TERRAFORM") or shutil.which("terraform")
    if not terraform or not Path(terraform).is_file():
        _missing(f"Terraform {TERRAFORM_MINOR}x not found: put terraform on PATH or set PLATFORM_TERRAFORM")
    version = json.loads(_run([terraform, "version", "-json"]).stdout)["terraform_version"]
    if not version.startswith(TERRAFORM_MINOR):
        _missing(f"{terraform} is Terraform {version}; these tests need {TERRAFORM_MINOR}x")
    return TerraformTools(Path(terraform), provider_mirror(os.environ.get("PLATFORM_TF_PROVIDER_MIRROR")))


def provider_mirror(explicit: str | None, candidates: tuple[str, ...] = MIRROR_CANDIDATES) -> Path | None:
    """The mirror to install the aws provider from: the one named (which must hold it), else the first candidate
    that holds it, else None (the registry, through PLUGIN_CACHE)."""
    for candidate in [explicit] if explicit else candidates:
        mirror = Path(candidate).expanduser()
        if (mirror / PROVIDER_PATH).is_dir():
            return mirror
    if explicit:
        _missing(
            f"no filesystem mirror with hashicorp/aws {AWS_PROVIDER} ({PROVIDER_PATH}) in "
            f"PLATFORM_TF_PROVIDER_MIRROR={explicit}"
        )
    return None


def _run(argv: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MotoServer:
    """moto in server mode in a thread of the test process, on a free loopback port."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = free_loopback_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    def __enter__(self) -> MotoServer:
        self._server.start()
        self.reset()
        return self

    def __exit__(self, *exc: object) -> None:
        self.reset()
        self._server.stop()

    def reset(self) -> None:
        """Forget every resource: moto keeps them per process, not per server, so the next server (another test
        module) would find them and fail to create the same names."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass

    def client_environ(self) -> dict[str, str]:
        """What boto3 (and the reaper) need to talk to this server."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": FAKE_KEY,
            "AWS_SECRET_ACCESS_KEY": FAKE_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def provider_override(self) -> dict:
        """aws provider settings only tests need: moto endpoints and fake keys. skip_requesting_account_id stays
        false: with it true, security group rules that reference a group show a diff on every plan."""
        return {
            "access_key": FAKE_KEY,
            "secret_key": FAKE_KEY,
            "skip_credentials_validation": True,
            "skip_metadata_api_check": True,
            "s3_use_path_style": True,
            "endpoints": [{service: self.url for service in MOTO_SERVICES}],
        }


def moto_workarounds(stack: dict) -> dict:
    """Resource overrides for what moto (5.2) does differently from AWS:

    - moto returns no description for a security group rule that references a group or a prefix list (isolated
      egress: S3 through its gateway endpoint's list), so the next plan would want to set it again; AWS keeps it
      (and checkov CKV_AWS_23 wants it). The override nulls the description.
    - moto's Budgets has CreateBudget and notifications but no tagging API: it answers the ListTagsForResource the
      aws provider (5.100) makes for every budget with HTTP 500, which the provider retries for many minutes. The
      override leaves the budget out (count = 0); the synth tests and the budget's checks cover it."""
    overrides: dict[str, dict] = {}
    for kind in ("aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule"):
        for name, rule in stack.get("resource", {}).get(kind, {}).items():
            referenced = rule.get("referenced_security_group_id") or rule.get("prefix_list_id")
            if referenced and "description" in rule:
                overrides.setdefault(kind, {})[name] = {"description": None}
    for name in stack.get("resource", {}).get("aws_budgets_budget", {}):
        overrides.setdefault("aws_budgets_budget", {})[name] = {"count": 0}
    return overrides


class TerraformDir:
    """One synthesized stack copied to a working directory (or, with ``in_place``, used where it was synthesized),
    with the test override beside it."""

    def __init__(
        self,
        tools: TerraformTools,
        stack_dir: Path,
        workdir: Path,
        moto: MotoServer,
        *,
        in_place: bool = False,
    ) -> None:
        self.tools = tools
        self.dir = stack_dir if in_place else workdir / stack_dir.name
        if not in_place:
            shutil.copytree(stack_dir, self.dir)
        self.cli_config = workdir / "terraform.rc"
        self.cli_config.write_text(tools.cli_config())
        if tools.mirror is None:
            PLUGIN_CACHE.mkdir(parents=True, exist_ok=True)  # Terraform uses the cache only if it exists
        self.moto = moto

    def write_override(self, *, backend: dict | None = None) -> None:
        """Terraform merges `*_override.tf.json` over the stack: moto endpoints, fake keys, (unless ``backend``
        says otherwise) a local backend inside the working directory, and the moto workarounds below."""
        override = {
            "terraform": {"backend": backend or {"local": {"path": "terraform.tfstate"}}},
            "provider": {"aws": [self.moto.provider_override()]},
        }
        workarounds = moto_workarounds(json.loads((self.dir / "cdk.tf.json").read_text()))
        if workarounds:
            override["resource"] = workarounds
        (self.dir / "test_override.tf.json").write_text(json.dumps(override, indent=2))

    def environ(self) -> dict[str, str]:
        environ = {
            **os.environ,
            "TF_CLI_CONFIG_FILE": str(self.cli_config),
            "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1",
            # The CLI config decides where providers come from; a user's own cache setting must not.
            "TF_PLUGIN_CACHE_DIR": str(PLUGIN_CACHE) if self.tools.mirror is None else "",
        }
        # Never a real account: only the fake keys of the override file.
        for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            environ.pop(name, None)
        return environ

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = _run([str(self.tools.terraform), *args, "-no-color"], cwd=self.dir, env=self.environ())
        if check and result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
            pytest.fail(f"terraform {args[0]} failed ({result.returncode}):\n{tail}", pytrace=False)
        return result
