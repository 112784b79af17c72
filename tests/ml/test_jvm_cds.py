"""The local Spark JVM's class data sharing archive (churn.jvm_cds): written by the first local run into the user's
cache, used by the next ones, and never a reason for a command to fail or print more: a broken archive, a
cache directory that cannot be written and a Databricks cluster all mean running without it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from churn import jvm_cds

REPO = Path(__file__).resolve().parents[2]


def churn(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(cache),
        "PYTHONPATH": os.pathsep.join([str(REPO / "ml" / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("CHURN_JVM_CDS", None)
    return subprocess.run(
        [sys.executable, "-m", "churn.cli", *args], capture_output=True, text=True, env=env, timeout=600
    )


def archives(cache: Path) -> list[Path]:
    return sorted((cache / "churn" / "jvm-cds").glob("*"))


def test_first_run_writes_the_archive_and_a_broken_one_is_ignored(tmp_path, telco_sample):
    cache = tmp_path / "cache"
    first = churn("ingest", "--input", str(telco_sample), "--workdir", str(tmp_path / "w1"), cache=cache)
    assert first.returncode == 0, first.stderr
    written = archives(cache)
    assert len(written) == 1 and written[0].suffix == ".jsa", written  # renamed, no temporary left
    assert "cds" not in first.stdout + first.stderr and "archive" not in first.stdout + first.stderr

    # Same size as recorded (so it is picked), garbage inside: the JVM must ignore it, silently.
    size = written[0].stat().st_size
    written[0].chmod(0o644)
    with written[0].open("r+b") as archive:
        archive.write(os.urandom(4096))
    assert written[0].stat().st_size == size
    second = churn("ingest", "--input", str(telco_sample), "--workdir", str(tmp_path / "w2"), cache=cache)
    assert second.returncode == 0, second.stderr
    assert "cds" not in second.stdout + second.stderr and "archive" not in second.stdout + second.stderr
    assert second.stderr.splitlines() == first.stderr.splitlines()


def test_a_refused_command_writes_no_archive_and_does_not_wait(tmp_path):
    cache = tmp_path / "cache"
    typo = tmp_path / "wrok"
    done = churn("train", "--workdir", str(typo), cache=cache)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert archives(cache) == []


def test_a_truncated_archive_is_not_used(tmp_path, monkeypatch):
    """The JVM crashes (SIGBUS) on an archive shorter than its header says: only one whose size is the one in its
    name is handed to it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("CHURN_JVM_CDS", raising=False)
    directory = jvm_cds.cache_dir()
    directory.mkdir(parents=True)
    (directory / "k-1000.jsa").write_bytes(b"x" * 999)
    assert jvm_cds.usable_archive(directory, "k") is None
    (directory / "k-1000.jsa").write_bytes(b"x" * 1000)
    assert jvm_cds.usable_archive(directory, "k") == directory / "k-1000.jsa"


def test_of_two_archives_from_first_runs_at_once_the_larger_is_used(tmp_path, monkeypatch):
    """Two first runs at once each keep their own archive; the one that loaded more classes serves more."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    directory = jvm_cds.cache_dir()
    directory.mkdir(parents=True)
    for size in (2000, 10000, 900):
        (directory / f"k-{size}.jsa").write_bytes(b"x" * size)
    (directory / "k-20000.jsa").write_bytes(b"x" * 50)  # truncated: not a candidate
    assert jvm_cds.usable_archive(directory, "k") == directory / "k-10000.jsa"


def test_a_cache_directory_that_cannot_be_made_means_no_archive(tmp_path, monkeypatch):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(not_a_dir))
    monkeypatch.delenv("CHURN_JVM_CDS", raising=False)
    assert jvm_cds.java_options("-Xmx4g", may_dump=True) == ("", None)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_cache_directory_means_no_archive(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("CHURN_JVM_CDS", raising=False)
    jvm_cds.cache_dir().mkdir(parents=True)
    jvm_cds.cache_dir().chmod(0o500)
    assert jvm_cds.java_options("-Xmx4g", may_dump=True) == ("", None)


def test_no_archive_on_databricks(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "18.0")
    assert jvm_cds.java_options("-Xmx4g", may_dump=True) == ("", None)
    assert list(tmp_path.iterdir()) == []


def test_the_archive_key_follows_the_jars_and_the_heap(tmp_path):
    java = jvm_cds._java()
    assert java is not None
    jars = tmp_path / "jars"
    jars.mkdir()
    (jars / "spark-core.jar").write_bytes(b"1")
    key = jvm_cds.archive_key(java, jars, "-Xmx4g")
    assert jvm_cds.archive_key(java, jars, "-Xmx6g") != key
    (jars / "spark-core.jar").write_bytes(b"22")
    assert jvm_cds.archive_key(java, jars, "-Xmx4g") != key
