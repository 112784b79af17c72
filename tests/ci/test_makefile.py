"""The Makefile where people read it: `make help` into a pipe, and setup's one-line Terraform check."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def make(*targets: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path or os.environ["PATH"]}
    env.pop("MAKEFLAGS", None)
    return subprocess.run(
        ["make", "-s", "-C", str(ROOT), *targets], capture_output=True, text=True, env=env, timeout=60
    )


def test_make_help_prints_no_colour_codes_into_a_pipe():
    helped = make("help")
    assert helped.returncode == 0, helped.stderr
    assert "\x1b" not in helped.stdout
    assert any(line.split()[:1] == ["setup"] for line in helped.stdout.splitlines())


def fake_terraform(tmp_path: Path, version: str) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # `terraform version -json` prints one key per line
    (bin_dir / "terraform").write_text(
        f'#!/bin/sh\nprintf \'{{\\n  "terraform_version": "{version}",\\n  "platform": "linux_amd64"\\n}}\\n\'\n'
    )
    (bin_dir / "terraform").chmod(0o755)
    return f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin"


@pytest.mark.parametrize(
    ("version", "said"),
    [
        (
            None,
            "warning: terraform not found on PATH: install Terraform 1.11 (deploys need >= 1.7, make test needs 1.11.x)",
        ),
        ("1.6.6", "warning: Terraform 1.6.6 is older than 1.7: install Terraform 1.11"),
        ("1.9.2", "warning: Terraform 1.9.2: make test's real-Terraform tests need 1.11.x"),
        ("1.11.4", None),
    ],
)
def test_setup_says_in_one_line_when_terraform_is_missing_or_too_old(tmp_path, version, said):
    path = fake_terraform(tmp_path, version) if version else f"{tmp_path}{os.pathsep}/usr/bin{os.pathsep}/bin"
    if version is None:
        assert not any((Path(d) / "terraform").exists() for d in path.split(os.pathsep))
    checked = make("terraform-check", path=path)
    assert checked.returncode == 0  # a warning: setup goes on (the lint job needs no Terraform)
    assert checked.stderr.splitlines() == ([said] if said else [])
    assert "terraform-check" in (ROOT / "Makefile").read_text().split("\nsetup:")[1].splitlines()[0]
