"""A local run of a Spark command boots the JVM in the background while Python imports (churn.spark_session);
a command that then refuses its options must still print its one line and nothing from the JVM it never used."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_refused_local_command_prints_one_line_and_no_jvm_output(tmp_path):
    typo = tmp_path / "wrok"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "ml" / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "churn.cli", "train", "--workdir", str(typo)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"error: --workdir: '{typo}' does not exist; check the path or run `churn ingest` first"
    ]
    assert not typo.exists()
