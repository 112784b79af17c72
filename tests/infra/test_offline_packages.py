"""What validate refuses about an isolated env's wheelhouse (infra/config/offline_packages.py), the closure it
computes, `platform.package_index`, and what the runner says when it cannot fetch (infra/wheelhouse.py).

Every refusal is one line, exit 2, naming the env's egress field, the workload and the package with its versions:
the wheelhouse is what an isolated cluster installs instead of going to PyPI, so a package it cannot pin would fail
every job at library install after a successful deploy.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
import yaml

from infra.cli.main import main
from infra.config.offline_packages import Pin, Runtime, WheelhouseProblem, closure
from tests.infra.conftest import ROOT
from tests.infra.test_aws_config import validate

COMMITTED = yaml.safe_load((ROOT / "platform.yaml").read_text())
FIELD = "teams.risk.environments.prod.egress.mode: isolated clusters cannot reach PyPI and the wheelhouse of "
RUNTIME = Runtime(
    name="databricks-18-lts-ml.txt", python="3.12", libraries={"numpy": "2.1.3", "typer": "0.9.0"}
)


def pin(name: str, version: str) -> Pin:
    return Pin(name=name, version=version, hashes=frozenset({"a" * 64}))


def lock_with(tmp_path, monkeypatch, change) -> None:
    """Point validate at a copy of the suite's lock (PLATFORM_WHEELHOUSE_LOCK) changed by ``change``."""
    document = json.loads(Path(os.environ["PLATFORM_WHEELHOUSE_LOCK"]).read_text())
    change(document["default"])
    path = tmp_path / "Pipfile.lock"
    path.write_text(json.dumps(document))
    monkeypatch.setenv("PLATFORM_WHEELHOUSE_LOCK", str(path))


def refused(tmp_path, capsys) -> str:
    code, out, err = validate(copy.deepcopy(COMMITTED), tmp_path, capsys)
    assert code == 2 and out == "" and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert FIELD + "teams.risk.workloads[0] (churn, ml) cannot be pinned: " in line
    return line


def test_the_committed_isolated_prod_validates(tmp_path, capsys):
    code, _, err = validate(copy.deepcopy(COMMITTED), tmp_path, capsys)
    assert code == 0, err


def test_a_requirement_neither_shipped_nor_locked_is_refused(tmp_path, capsys, monkeypatch):
    lock_with(tmp_path, monkeypatch, lambda default: default.pop("narwhals"))
    line = refused(tmp_path, capsys)
    assert "fairlearn 0.15.0 requires narwhals>=1.14.0, which databricks-18-lts-ml.txt does not ship" in line
    assert line.endswith("add it to the Pipfile (`[packages]`) so the dev env and the wheelhouse pin it")


def test_a_lock_pin_outside_the_requirements_range_is_refused(tmp_path, capsys, monkeypatch):
    lock_with(tmp_path, monkeypatch, lambda default: default["fairlearn"].update(version="==0.9.0"))
    assert refused(tmp_path, capsys).endswith(
        "the wheel requires fairlearn>=0.10, but Pipfile.lock pins fairlearn 0.9.0"
    )


def test_a_dev_env_out_of_step_with_the_lock_is_told_to_run_make_setup(tmp_path, capsys, monkeypatch):
    """The next requirements are read from the installed metadata: only the lock's version tells the truth."""
    lock_with(tmp_path, monkeypatch, lambda default: default["fairlearn"].update(version="==0.14.0"))
    line = refused(tmp_path, capsys)
    assert line.endswith("fairlearn 0.15.0 is installed but Pipfile.lock pins 0.14.0; run `make setup`")


def test_a_requirement_the_runtime_ships_at_another_version_is_refused():
    """pip on the cluster would replace the runtime's package from PyPI, which it cannot reach."""
    with pytest.raises(WheelhouseProblem) as problem:
        closure(["typer>=0.12"], runtime=RUNTIME, lock={}, requires=lambda p: [])
    assert str(problem.value) == (
        "the wheel requires typer>=0.12, but databricks-18-lts-ml.txt ships typer 0.9.0: pip on the cluster would "
        "fetch another typer from PyPI"
    )


def test_the_closure_puts_each_package_after_what_it_requires_and_leaves_the_runtimes_to_it():
    lock = {name: pin(name, "1.0") for name in ("a", "b", "c", "d")}
    requires = {
        "a": ["b>=1", "numpy>=2"],  # numpy: shipped, not in the wheelhouse
        "b": [
            "c",
            "d; python_version < '3.12'",
            "d[extra]; extra == 'never'",
        ],  # d: not on the runtime's Python
        "c": [],
    }
    got = closure(["a", "c"], runtime=RUNTIME, lock=lock, requires=lambda p: requires[p.name])
    assert [p.name for p in got] == ["c", "b", "a"]


def test_extras_of_a_requirement_pull_their_own_requirements():
    lock = {name: pin(name, "1.0") for name in ("a", "fast")}
    requires = {"a": ["fast; extra == 'speed'"], "fast": []}
    got = closure(["a[speed]"], runtime=RUNTIME, lock=lock, requires=lambda p: requires[p.name])
    assert [p.name for p in got] == ["fast", "a"]


@pytest.mark.parametrize(
    ("index", "words"),
    [
        ("http://mirror.example/simple", "not an https:// URL"),
        ("https://user:secret@mirror.example/simple", "the URL carries credentials"),
    ],
    ids=["plain-http", "credentials"],
)
def test_a_package_index_pip_cannot_use_safely_is_refused(tmp_path, capsys, index, words):
    config = copy.deepcopy(COMMITTED)
    config["platform"]["package_index"] = index
    code, _, err = validate(config, tmp_path, capsys)
    (line,) = err.strip().splitlines()
    assert code == 2 and "platform.package_index" in line and words in line


def test_the_deploy_dry_run_shows_the_wheelhouse_fetch_of_isolated_envs_only(capsys):
    for target, shown in (("risk/prod", True), ("risk/dev", False)):
        with pytest.raises(SystemExit) as exited:
            main(["deploy", target, "--dry-run", "--config", str(ROOT / "platform.yaml")])
        out = capsys.readouterr().out
        assert exited.value.code in (0, None)
        fetch = [line for line in out.splitlines() if "fetch the wheelhouse" in line]
        if shown:
            (line,) = fetch
            assert "narwhals==2.29.0, fairlearn==0.15.0, pinned with Pipfile.lock's sha256" in line
            assert "(reused when cached)" in line
        else:
            assert fetch == []


def test_synth_without_network_or_cache_is_one_line_naming_the_package(
    tmp_path, capsys, monkeypatch, fake_wheel
):
    empty = tmp_path / "no-index"
    empty.mkdir()
    monkeypatch.setenv("PLATFORM_WHEELHOUSE_FIND_LINKS", str(empty))
    monkeypatch.setenv("PLATFORM_WHEELHOUSE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(SystemExit) as exited:
        main(
            [
                "synth",
                "--config",
                str(ROOT / "platform.yaml"),
                "--out",
                str(tmp_path / "out"),
                "--wheel",
                str(fake_wheel),
            ]
        )
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith("error: wheelhouse: narwhals==2.29.0: not in the wheelhouse cache")
    assert "set platform.package_index to a mirror it reaches" in line
    assert not (tmp_path / "out").exists()


def test_cdktf_entry_point_without_network_or_cache_is_one_line(tmp_path, capsys, monkeypatch, fake_wheel):
    """`cdktf synth` (cdktf.json runs infra/main.py) stops the same way, exit 2, before writing any stack."""
    from infra.main import main as cdktf_main

    empty = tmp_path / "no-index"
    empty.mkdir()
    monkeypatch.setenv("PLATFORM_WHEELHOUSE_FIND_LINKS", str(empty))
    monkeypatch.setenv("PLATFORM_WHEELHOUSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PLATFORM_CONFIG", str(ROOT / "platform.yaml"))
    monkeypatch.setenv("CHURN_WHEEL", str(fake_wheel))
    monkeypatch.setenv("CDKTF_OUTDIR", str(tmp_path / "out"))
    with pytest.raises(SystemExit) as exited:
        cdktf_main()
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert exited.value.code == 2 and line.startswith(
        "wheelhouse: narwhals==2.29.0: not in the wheelhouse cache"
    )
    assert list((tmp_path / "out").rglob("cdk.tf.json")) == []
