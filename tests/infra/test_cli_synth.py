"""`platform synth`: writes every stack with a summary, and never leaves half-written output."""

import json
from pathlib import Path

import pytest

from infra.cli.main import main

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
    assert len(stacks) == 18 and {"churn-prod-workspace", "risk-prod-platform", "risk-prod-account"} <= set(
        stacks
    )
    platform = json.loads((out_dir / "stacks" / "churn-prod-platform" / "cdk.tf.json").read_text())
    resources = sum(len(v) for v in platform["resource"].values())
    assert "churn-prod-platform" in out and f"│ {resources} " in out.replace("  ", " ")
    # no staging directories left behind; the lock file stays (an flock on it is the lock, see lifecycle/lock.py)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cdktf.out", "cdktf.out.lock"]


def test_failed_synth_keeps_the_previous_output(tmp_path, fake_wheel, capsys, monkeypatch):
    out_dir = tmp_path / "cdktf.out"
    (out_dir / "stacks" / "old").mkdir(parents=True)
    (out_dir / "stacks" / "old" / "cdk.tf.json").write_text("{}")

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
    assert code == 2 and err.strip() == f"error: {tmp_path / 'x.whl'}: not a wheel file"


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
