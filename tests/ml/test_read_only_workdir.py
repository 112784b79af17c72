"""A work directory with a part the job cannot write is refused before anything is written: one line naming the
part, exit 2, every table at the version it had. (Root ignores permission bits, so as root the folder is made
immutable with `chattr +i`, which stops root too; elsewhere it is chmod 555.)"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from churn.cli import main
from churn.errors import ChurnError
from churn.jobs.ingest import run_ingest
from churn.runtime import FEATURES, QUARANTINE, SILVER, local_runtime, runtime_from_options


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    if os.geteuid() != 0:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(mode)
        return
    made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"running as root and chattr +i is not available here: {made.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_a_read_only_table_folder_refuses_the_batch_before_any_table_is_written(
    spark, telco_raw, tmp_path, capsys
):
    workdir = tmp_path / "work"
    first = tmp_path / "first.csv"
    telco_raw.iloc[:300].to_csv(first, index=False)
    run_ingest(local_runtime(workdir), str(first))
    store = local_runtime(workdir).store
    before = {name: store.version(name) for name in (SILVER, FEATURES)}

    second = telco_raw.iloc[300:600].reset_index(drop=True)
    second.loc[:3, "Contract"] = "Three year"  # rows for quarantine: that table would be written first
    batch = tmp_path / "second.csv"
    second.to_csv(batch, index=False)
    # Silver is written before features: a job that found out at features would leave silver changed.
    log = workdir / "tables" / FEATURES / "_delta_log"
    with read_only(log), pytest.raises(SystemExit) as exited:
        main(["ingest", "--input", str(batch), "--workdir", str(workdir)])

    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert err.startswith(f"error: --workdir: cannot write '{log}'") and "nothing was written" in err
    assert {name: store.version(name) for name in (SILVER, FEATURES)} == before
    assert not store.exists(QUARANTINE)


def test_a_read_only_table_behind_a_symlinked_folder_is_refused(tmp_path):
    """A table folder moved to another disk and linked back (tables/features -> /mnt/big/features) is written
    through the link: its read-only part must be found like any other, not skipped because the walk does not
    follow links; and a link back up the tree (a loop) must not hang the check."""
    workdir = tmp_path / "work"
    (workdir / "tables" / SILVER / "_delta_log").mkdir(parents=True)
    elsewhere = tmp_path / "big-disk" / FEATURES
    log = elsewhere / "_delta_log"
    log.mkdir(parents=True)
    (workdir / "tables" / FEATURES).symlink_to(elsewhere, target_is_directory=True)
    (workdir / "tables" / "loop").symlink_to(workdir, target_is_directory=True)
    options = dict(catalog=None, schema=None, model_name="churn", experiment_path=None, existing_workdir=True)
    with read_only(log), pytest.raises(ChurnError) as refused:
        runtime_from_options(workdir=workdir, **options)
    assert "cannot write" in str(refused.value) and FEATURES in str(refused.value)
