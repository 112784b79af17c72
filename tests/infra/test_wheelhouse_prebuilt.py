"""The wheelhouse follows the churn wheel the synth uploads, not only the checkout's ml/pyproject.toml.

`platform synth --wheel` and CHURN_WHEEL take a prebuilt wheel (a release's, CI's), whose requirements may be newer
or older than the checkout's pyproject. The wheelhouse was computed from the pyproject alone, so a prebuilt wheel
requiring a package the pyproject does not name synthesized without it, and pip on the isolated cluster went to
PyPI for it at every job start. The closure is now read from the wheel's own Requires-Dist (a file that is not a
readable wheel, like the suite's snapshot stand-in, falls back to the pyproject).
"""

from __future__ import annotations

import importlib.metadata

import pytest

from infra.cli.main import main
from infra.wheelhouse import wheel_requirements
from tests.infra.conftest import ROOT
from tests.wheelhouse_standins import build_wheel


def churn_wheel(directory, extra: list[str]):
    requires = list(importlib.metadata.distribution("churn").requires or [])
    return build_wheel(directory, "churn", "0.1.0", [*requires, *extra])


def test_a_prebuilt_wheel_requiring_an_unpinned_package_stops_the_synth_in_one_line(tmp_path, capsys):
    (tmp_path / "dist").mkdir()
    wheel = churn_wheel(tmp_path / "dist", ["wheelhouse-unpinned-dep>=1"])
    options = {"--config": ROOT / "platform.yaml", "--out": tmp_path / "out", "--wheel": wheel}
    argv = ["synth", *(str(part) for option in options.items() for part in option)]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert (exited.value.code, err.count("\n"), "Traceback" in err) == (2, 1, False)
    line = err.strip()
    assert line.startswith("error: wheelhouse: risk/prod: the wheelhouse of churn-0.1.0-py3-none-any.whl:")
    assert "requires wheelhouse-unpinned-dep>=1, which databricks-18-lts-ml.txt does not ship" in line
    assert not list((tmp_path / "out").rglob("cdk.tf.json"))


def test_the_wheels_requirements_are_read_from_its_metadata(tmp_path):
    wheel = churn_wheel(tmp_path, ["extra-dep>=2; python_version >= '3.12'"])
    assert "extra-dep>=2; python_version >= '3.12'" in (wheel_requirements(wheel) or [])
    assert "fairlearn>=0.10" in (wheel_requirements(wheel) or [])
    stand_in = tmp_path / "churn-0.1.0-py3-none-any.whl"
    stand_in.write_bytes(b"not a zip")
    assert wheel_requirements(stand_in) is None
