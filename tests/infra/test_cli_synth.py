"""`platform synth`: writes every stack with a summary, and never leaves half-written output."""

import errno
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.cli.main import main
from infra.config import load_config
from infra.lifecycle.synthesis import OUTPUT_MARKER, STAGING_MARKER
from tests.wheels import write_wheel

ROOT = Path(__file__).resolve().parents[2]


def run(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def test_synth_writes_every_stack_and_prints_resource_counts(tmp_path, fake_wheel, capsys):
    out_dir = tmp_path / "cdktf.out"
    code, out, err = run(
        ["synth", "--config", str(ROOT / "platform.yaml"), "--out", str(out_dir), "--wheel", str(fake_wheel)],
        capsys,
    )
    assert code == 0, err
    stacks = sorted(p.name for p in (out_dir / "stacks").iterdir())
    config = load_config(ROOT / "platform.yaml")
    assert stacks == sorted(stack for te in config.team_envs for stack in te.stacks.values())
    aws = {"risk-prod-platform", "risk-prod-account", "risk-prod-workspace"}
    assert {"churn-prod-workspace", *aws} <= set(stacks)
    platform = json.loads((out_dir / "stacks" / "churn-prod-platform" / "cdk.tf.json").read_text())
    resources = sum(len(v) for v in platform["resource"].values())
    assert "churn-prod-platform" in out and f"│ {resources} " in out.replace("  ", " ")
    # no staging directories left behind; the lock file stays (an flock on it is the lock, see lifecycle/lock.py)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cdktf.out", "cdktf.out.lock"]


def test_failed_synth_keeps_the_previous_output(tmp_path, fake_wheel, capsys, monkeypatch):
    out_dir = tmp_path / "cdktf.out"
    (out_dir / "stacks" / "old").mkdir(parents=True)
    (out_dir / "stacks" / "old" / "cdk.tf.json").write_text("{}")
    write_manifest(out_dir, ["old"])

    class HalfWrittenApp:
        def __init__(self, outdir):
            self.outdir = Path(outdir)

        def synth(self):
            (self.outdir / "stacks" / "first").mkdir(parents=True)
            (self.outdir / "stacks" / "first" / "cdk.tf.json").write_text("{}")
            raise RuntimeError(
                "Error: Validation failed with the following errors:\n  [first/storage] PLAT-ST-2: bad"
            )

    monkeypatch.setattr(
        "infra.app.build_app", lambda config, *, outdir, wheel, team_envs=None: HalfWrittenApp(outdir)
    )
    code, _, err = run(
        ["synth", "--config", str(ROOT / "platform.yaml"), "--out", str(out_dir), "--wheel", str(fake_wheel)],
        capsys,
    )
    assert code == 1
    assert err.splitlines() == [
        "error: synth failed; nothing was written",
        "error: [first/storage] PLAT-ST-2: bad",
    ]
    assert sorted(p.name for p in (out_dir / "stacks").iterdir()) == ["old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cdktf.out", "cdktf.out.lock"]


def test_synth_rejects_a_missing_wheel(tmp_path, capsys):
    code, _, err = run(
        ["synth", "--config", str(ROOT / "platform.yaml"), "--wheel", str(tmp_path / "x.whl")], capsys
    )
    assert code == 2 and err.strip() == f"error: --wheel: {tmp_path / 'x.whl'} is not a wheel file"


def test_synth_to_an_unwritable_place_is_one_line_and_writes_nothing(tmp_path, fake_wheel, capsys):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the output's parent should be")
    out_dir = blocker / "cdktf.out"
    code, _, err = run(
        ["synth", "--config", str(ROOT / "platform.yaml"), "--out", str(out_dir), "--wheel", str(fake_wheel)],
        capsys,
    )
    assert code == 2 and err.strip().startswith(f"error: --out: cannot write {out_dir}: ")
    assert [p.name for p in tmp_path.iterdir()] == ["not-a-dir"]


def synth_into(out, wheel, capsys):
    return run(
        ["synth", "--config", str(ROOT / "platform.yaml"), "--out", str(out), "--wheel", str(wheel)], capsys
    )


class StacksApp:
    """Stands in for build_app: writes a small cdk.tf.json per stack, at once (no bindings, no jsii)."""

    def __init__(self, config, *, outdir, wheel, team_envs=None):
        self.outdir, self.team_envs = Path(outdir), team_envs or config.team_envs

    def synth(self):
        for team_env in self.team_envs:
            for stack in team_env.stacks.values():
                (self.outdir / "stacks" / stack).mkdir(parents=True)
                (self.outdir / "stacks" / stack / "cdk.tf.json").write_text('{"resource": {}}')
        write_manifest(self.outdir, [s for te in self.team_envs for s in te.stacks.values()])


def write_manifest(out: Path, stacks: list[str]) -> None:
    """The manifest.json cdktf 0.21 writes beside stacks/ (trimmed to the fields that identify it)."""
    listed = {
        name: {
            "name": name,
            "workingDirectory": f"stacks/{name}",
            "synthesizedStackPath": f"stacks/{name}/cdk.tf.json",
        }
        for name in stacks
    }
    (out / "manifest.json").write_text(json.dumps({"version": "0.21.0", "stacks": listed}))


@pytest.fixture
def quick_app(monkeypatch):
    monkeypatch.setattr("infra.app.build_app", StacksApp)


def test_an_out_that_is_a_file_is_refused_and_left_alone(tmp_path, fake_wheel, capsys, quick_app):
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    code, _, err = run(
        ["synth", "--config", str(ROOT / "platform.yaml"), "--out", str(target), "--wheel", str(fake_wheel)],
        capsys,
    )
    assert code == 2
    assert err.splitlines() == [
        f"error: --out: {target} exists and is not a directory; refusing to replace it"
    ]
    assert target.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def a_checkout(root: Path) -> dict[str, str]:
    """A directory as `--out .` finds it in a checkout: repository, config, code. Returns path -> content."""
    files = {".git/HEAD": "ref: refs/heads/main\n", "platform.yaml": "teams: []\n", "infra/app.py": "x = 1\n"}
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return files


def test_synth_out_dot_in_a_checkout_is_refused_and_removes_nothing(
    tmp_path, fake_wheel, capsys, quick_app, monkeypatch
):
    checkout = tmp_path / "checkout"
    files = a_checkout(checkout)
    monkeypatch.chdir(checkout)
    code, _, err = synth_into(Path("."), fake_wheel, capsys)
    assert code == 2
    assert err.splitlines() == [
        "error: --out: . is not the output of a synth (it holds .git, infra, platform.yaml) and a synth replaces "
        "its output whole; refusing: name a new or empty directory, or a previous synth output"
    ]
    assert {str(p.relative_to(checkout)) for p in checkout.rglob("*") if p.is_file()} == set(files)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkout"]  # no staging, no lock beside it


def test_scan_out_of_a_users_directory_is_refused_before_synth(tmp_path, fake_wheel, capsys, quick_app):
    mine = tmp_path / "reports"
    (mine / "stacks").mkdir(parents=True)  # a stacks/ folder, but no manifest: not cdktf's output
    (mine / "stacks" / "notes.md").write_text("keep me")
    checkov = tmp_path / "checkov"
    checkov.write_text("#!/bin/sh\nexit 0\n")
    code, _, err = run(
        [
            *("scan", "--config", str(ROOT / "platform.yaml"), "--out", str(mine)),
            *("--wheel", str(fake_wheel), "--checkov", str(checkov)),
        ],
        capsys,
    )
    assert code == 2 and "--out: " in err and "refusing" in err and len(err.splitlines()) == 1
    assert (mine / "stacks" / "notes.md").read_text() == "keep me"


def test_a_previous_synth_output_is_replaced_and_only_it(tmp_path, fake_wheel, capsys, quick_app):
    out = tmp_path / "out"
    users_old = tmp_path / ".out-old"  # the name the swap once used for the previous output: not ours
    users_old.mkdir()
    (users_old / "keep.txt").write_text("keep me")
    assert synth_into(out, fake_wheel, capsys)[0] == 0
    assert (out / OUTPUT_MARKER).is_file()
    # a stack of an earlier config, which the earlier synth wrote and listed
    (out / "stacks" / "gone-team-dev-platform").mkdir()
    listed = json.loads((out / "manifest.json").read_text())["stacks"]
    write_manifest(out, [*listed, "gone-team-dev-platform"])
    code, _, err = synth_into(out, fake_wheel, capsys)
    assert code == 0, err
    assert not (out / "stacks" / "gone-team-dev-platform").exists()
    assert (users_old / "keep.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out-old", "out", "out.lock"]


def test_an_output_of_npx_cdktf_synth_is_replaced(tmp_path, fake_wheel, capsys, quick_app):
    out = tmp_path / "cdktf.out"
    (out / "stacks" / "churn-dev-platform" / ".terraform").mkdir(parents=True)
    write_manifest(out, ["churn-dev-platform", "churn-dev-workspace"])
    code, _, err = synth_into(out, fake_wheel, capsys)
    assert code == 0, err
    assert not (out / "stacks" / "churn-dev-platform" / ".terraform").exists()


def a_users_folder(root: Path, files: dict[str, str]) -> dict[str, str]:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return files


def files_under(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "files",
    [
        # a web app's folder: its own manifest.json (not cdktf's) and stacks/ notes
        {"manifest.json": '{"name": "my app", "start_url": "/"}', "stacks/notes.md": "keep me"},
        # cdktf-like manifest written by hand, but stacks/ holds notes it does not list
        {"manifest.json": '{"version": "1", "stacks": {}}', "stacks/notes.md": "keep me"},
        # the synth marker copied into a folder of notes
        {OUTPUT_MARKER: "copied\n", "stacks/notes.md": "keep me", "stacks/todo/list.md": "keep me too"},
    ],
    ids=["users-manifest", "unlisted-stacks", "copied-marker"],
)
def test_a_users_folder_that_only_looks_like_a_synth_output_is_refused_and_kept(
    tmp_path, fake_wheel, capsys, quick_app, files
):
    mine = tmp_path / "mine"
    a_users_folder(mine, files)
    code, _, err = synth_into(mine, fake_wheel, capsys)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith(f"error: --out: {mine} is not the output of a synth (") and "refusing" in err
    assert files_under(mine) == files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_a_users_file_at_the_outputs_lock_path_is_refused_before_anything_is_written(
    tmp_path, fake_wheel, capsys, quick_app
):
    users = tmp_path / "poetry.lock"  # `--out poetry` beside a project's poetry.lock
    users.write_text("[[package]]\nname = 'keep-me'\n")
    code, _, err = synth_into(tmp_path / "poetry", fake_wheel, capsys)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith(f"error: --out: {users} holds something other than a platform CLI lock note")
    assert users.read_text() == "[[package]]\nname = 'keep-me'\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["poetry.lock"]


@pytest.mark.parametrize("out", ["~", "~/out", "~ops/out"])
def test_an_out_with_a_tilde_the_shell_did_not_expand_is_refused(
    tmp_path, fake_wheel, capsys, quick_app, monkeypatch, out
):
    monkeypatch.chdir(tmp_path)  # `platform synth --out=~/out`: bash expands no ~ after `--out=`
    code, _, err = synth_into(Path(out), fake_wheel, capsys)
    assert code == 2 and err.splitlines() == [
        f"error: --out: {out} starts with ~, which the shell did not expand; write the path out, e.g. $HOME/..."
    ]
    assert list(tmp_path.iterdir()) == []


def test_an_out_whose_lock_cannot_be_written_is_an_input_problem(tmp_path, fake_wheel, capsys, monkeypatch):
    # as a read-only parent directory behaves for anyone but root
    real_open = os.open

    def read_only(path, *args, **kwargs):
        if str(path).endswith("out.lock"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("infra.lifecycle.lock.os.open", read_only)
    code, _, err = synth_into(tmp_path / "out", fake_wheel, capsys)
    assert (code, err.splitlines()) == (
        2,
        [f"error: --out: cannot write {tmp_path / 'out'}: Permission denied"],
    )


def test_the_output_directory_gets_the_users_permissions_not_0700(tmp_path, fake_wheel, capsys, quick_app):
    previous = os.umask(0o022)
    try:
        code, _, err = synth_into(tmp_path / "out", fake_wheel, capsys)
    finally:
        os.umask(previous)
    assert code == 0, err
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755


def test_the_next_synth_removes_the_staging_directories_of_killed_ones(
    tmp_path, fake_wheel, capsys, quick_app
):
    killed = tmp_path / ".out-staging-k1ll3d"
    (killed / "stacks" / "half").mkdir(parents=True)
    (killed / STAGING_MARKER).write_text("pid 4242\n")
    someone_elses = tmp_path / ".out-staging-notes"  # not marked as a synth's: never touched
    someone_elses.mkdir()
    code, _, err = synth_into(tmp_path / "out", fake_wheel, capsys)
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out-staging-notes", "out", "out.lock"]
    assert not (tmp_path / "out" / STAGING_MARKER).exists()


def test_git_ignores_the_staging_directories():
    staging = ".cdktf.out-staging-k1ll3d/stacks/x/cdk.tf.json"
    ignored = subprocess.run(["git", "check-ignore", "-q", staging], cwd=ROOT, check=False)
    assert ignored.returncode == 0, f"{staging} is not covered by .gitignore"


def test_synth_from_another_directory_reads_and_writes_the_project_files(
    tmp_path, capsys, monkeypatch, quick_app
):
    project = tmp_path / "project"
    (project / "ml").mkdir(parents=True)
    # validate reads the churn workload's package: the entry point its jobs run must be declared
    (project / "ml" / "pyproject.toml").write_text(
        '[project]\nname = "churn"\n[project.scripts]\nchurn = "churn.cli:main"\n'
    )
    # and the runtime's library list, against which risk/prod's wheelhouse is computed (empty for this package)
    shutil.copytree(ROOT / "ml" / "runtimes", project / "ml" / "runtimes")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setattr("infra.project.project_root", lambda: project)
    builds = []

    def builder(argv, *, cwd, **kwargs):
        builds.append(Path(cwd))
        outdir = Path(argv[argv.index("--outdir") + 1])
        write_wheel(outdir / "churn-0.1.0-py3-none-any.whl", {})  # the project has no src/ to ship
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr("infra.wheel.subprocess.run", builder)
    code, _, err = run(["synth", "--config", str(ROOT / "platform.yaml")], capsys)
    assert code == 0, err
    assert builds == [project / "ml"]
    assert list(elsewhere.iterdir()) == []
    assert sorted(p.name for p in project.iterdir()) == ["cdktf.out", "cdktf.out.lock", "dist", "ml"]
    config = load_config(ROOT / "platform.yaml")
    expected = sorted(stack for te in config.team_envs for stack in te.stacks.values())
    assert sorted(p.name for p in (project / "cdktf.out" / "stacks").iterdir()) == expected


@pytest.mark.slow  # starts the real CLI and waits for the jsii kernel
def test_ctrl_c_while_the_bindings_load_is_one_line(tmp_path, fake_wheel):
    out = tmp_path / "cdktf.out"
    command = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "infra.cli.main",
            "synth",
            "--config",
            str(ROOT / "platform.yaml"),
            "--out",
            str(out),
            "--wheel",
            str(fake_wheel),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell gives it: Ctrl-C reaches node too
    )
    try:
        deadline = time.monotonic() + 60
        while not _children(command.pid) and time.monotonic() < deadline:  # jsii starts its node kernel
            time.sleep(0.1)
        assert _children(command.pid), "the jsii kernel never started"
        time.sleep(0.5)
        os.killpg(command.pid, signal.SIGINT)
        _, err_text = command.communicate(timeout=60)
    finally:
        if command.poll() is None:
            os.killpg(command.pid, signal.SIGKILL)
    assert (command.returncode, err_text) == (130, "error: interrupted\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cdktf.out.lock"]


def _children(pid: int) -> list[str]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return path.read_text().split() if path.exists() else []


def test_synth_json_lists_each_stack_written_the_wheel_and_the_outdir(
    tmp_path, fake_wheel, capsys, quick_app
):
    out = tmp_path / "cdktf.out"
    code, stdout, err = run(
        [
            *("synth", "--json", "--config", str(ROOT / "platform.yaml")),
            *("--out", str(out), "--wheel", str(fake_wheel)),
        ],
        capsys,
    )
    assert code == 0, err
    written = json.loads(stdout)  # stdout is the JSON and nothing else
    assert written["outdir"] == str(out.resolve())
    assert written["wheel"] == str(fake_wheel.resolve())
    config = load_config(ROOT / "platform.yaml")
    expected = [
        (te.team.name, te.env, component, stack)
        for te in config.team_envs
        for component, stack in te.stacks.items()
    ]
    assert [(s["team"], s["env"], s["component"], s["name"]) for s in written["stacks"]] == expected
    for stack in written["stacks"]:
        assert set(stack) == {"name", "team", "env", "component", "resources", "outputs", "path"}
        assert Path(stack["path"]) == out.resolve() / "stacks" / stack["name"] / "cdk.tf.json"
        assert Path(stack["path"]).is_file()
        assert (stack["resources"], stack["outputs"]) == (0, 0)  # what StacksApp writes


def test_synth_json_counts_resources_and_outputs_of_each_stack(tmp_path, fake_wheel, capsys, monkeypatch):
    class CountedApp(StacksApp):
        def synth(self):
            super().synth()
            stack = self.team_envs[0].stacks["platform"]
            document = {"resource": {"a_type": {"x": {}, "y": {}}, "b_type": {"z": {}}}, "output": {"o": {}}}
            (self.outdir / "stacks" / stack / "cdk.tf.json").write_text(json.dumps(document))

    monkeypatch.setattr("infra.app.build_app", CountedApp)
    out = tmp_path / "out"
    code, stdout, err = run(
        [
            "synth",
            "--json",
            "--config",
            str(ROOT / "platform.yaml"),
            "--out",
            str(out),
            "--wheel",
            str(fake_wheel),
        ],
        capsys,
    )
    assert code == 0, err
    first = json.loads(stdout)["stacks"][0]
    assert (first["component"], first["resources"], first["outputs"]) == ("platform", 3, 1)


def test_synth_json_error_is_one_line_on_stderr_and_no_json(tmp_path, fake_wheel, capsys, quick_app):
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    code, stdout, err = run(
        [
            "synth",
            "--json",
            "--config",
            str(ROOT / "platform.yaml"),
            "--out",
            str(target),
            "--wheel",
            str(fake_wheel),
        ],
        capsys,
    )
    assert (code, stdout) == (2, "")
    assert err.splitlines() == [
        f"error: --out: {target} exists and is not a directory; refusing to replace it"
    ]
