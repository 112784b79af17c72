"""Fetching the wheelhouse wheels at synth (infra/wheelhouse.py), hermetically: pip reads tiny real wheels built in
tmp from a local directory (`--no-index --find-links`), never the network. What a runner relies on: only a wheel
whose sha256 Pipfile.lock lists reaches the cache, a cached wheel is reused without pip, two synths fetching at
once both end with the whole wheel, a read-only cache still serves what it holds, and a wheel that can be neither
found nor downloaded is one line naming the package and the fix."""

from __future__ import annotations

import errno
import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from infra.config.offline_packages import Pin
from infra.wheelhouse import Source, WheelhouseUnavailable, fetch
from tests.wheelhouse_standins import build_wheel

PYTHON = "3.12"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def index(tmp_path) -> tuple[Path, Pin]:
    """A local directory holding one wheel, and the pin that accepts it."""
    wheels = tmp_path / "index"
    wheels.mkdir()
    wheel = build_wheel(wheels, "tinydep", "1.2.3", ["numpy>=1.24"])
    return wheels, Pin(name="tinydep", version="1.2.3", hashes=frozenset({digest(wheel), "0" * 64}))


def test_a_wheel_whose_hash_the_lock_lists_is_downloaded_into_the_cache(tmp_path, index):
    wheels, pin = index
    cache = tmp_path / "cache"
    got = fetch(pin, cache=cache, source=Source(find_links=wheels), python=PYTHON)
    assert got == cache / "tinydep-1.2.3-py3-none-any.whl"
    assert digest(got) in pin.hashes
    assert sorted(p.name for p in cache.iterdir()) == [got.name]  # no private download directory left behind


def test_a_wheel_with_another_hash_is_refused_and_never_cached(tmp_path, index):
    """pip's --require-hashes refuses it; the message names the package and the fix."""
    wheels, pin = index
    cache = tmp_path / "cache"
    wrong = Pin(name=pin.name, version=pin.version, hashes=frozenset({"f" * 64}))
    with pytest.raises(WheelhouseUnavailable) as refused:
        fetch(wrong, cache=cache, source=Source(find_links=wheels), python=PYTHON)
    message = str(refused.value)
    assert "\n" not in message and message.startswith("tinydep==1.2.3: not in the wheelhouse cache")
    assert "HASHES" in message.upper() and f"into {cache}/" in message
    assert list(cache.glob("*.whl")) == []


def test_a_cached_wheel_with_a_hash_the_lock_does_not_list_is_not_used(tmp_path, index):
    """A stale or tampered file in the cache is passed over: the lock's wheel is downloaded beside it."""
    wheels, pin = index
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "tinydep-1.2.3-py3-none-any.whl").write_bytes(b"tampered")
    got = fetch(pin, cache=cache, source=Source(find_links=wheels), python=PYTHON)
    assert digest(got) in pin.hashes


def test_a_missing_wheel_without_network_is_one_line_naming_the_package_and_what_to_do(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    pin = Pin(name="fairlearn", version="0.15.0", hashes=frozenset({"a" * 64}))
    with pytest.raises(WheelhouseUnavailable) as refused:
        fetch(pin, cache=tmp_path / "cache", source=Source(find_links=empty), python=PYTHON)
    message = str(refused.value)
    assert "\n" not in message and message.startswith("fairlearn==0.15.0: not in the wheelhouse cache")
    assert (
        "set platform.package_index to a mirror" in message
        and "put the wheel of fairlearn==0.15.0" in message
    )


def test_a_cached_wheel_is_reused_without_pip(tmp_path, index):
    """The second synth finds the verified wheel: nothing is downloaded (the source is gone)."""
    wheels, pin = index
    cache = tmp_path / "cache"
    first = fetch(pin, cache=cache, source=Source(find_links=wheels), python=PYTHON)
    mtime = first.stat().st_mtime_ns
    gone = Source(find_links=tmp_path / "nowhere")
    assert fetch(pin, cache=cache, source=gone, python=PYTHON) == first
    assert first.stat().st_mtime_ns == mtime


def test_two_fetches_at_once_both_get_the_whole_wheel(tmp_path, index):
    """Each download goes to a private directory and is renamed into place: neither sees a partial file."""
    wheels, pin = index
    cache = tmp_path / "cache"
    with ThreadPoolExecutor(max_workers=2) as pool:
        got = list(
            pool.map(
                lambda _: fetch(pin, cache=cache, source=Source(find_links=wheels), python=PYTHON), range(2)
            )
        )
    assert got[0] == got[1] and digest(got[0]) in pin.hashes
    assert sorted(p.name for p in cache.iterdir()) == [got[0].name]


def test_a_read_only_cache_serves_what_it_holds_and_names_itself_for_what_it_lacks(
    tmp_path, index, monkeypatch
):
    """A cache on a read-only file system (a runner's image, a shared mount): the wheels it holds are served
    without a write, a missing one is refused naming the cache. The file system is simulated (the suite may run
    as root, who writes into read-only directories): creating the private download directory fails with EROFS."""
    wheels, pin = index
    cache = tmp_path / "cache"
    held = fetch(pin, cache=cache, source=Source(find_links=wheels), python=PYTHON)

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr("infra.wheelhouse.tempfile.mkdtemp", read_only)
    assert fetch(pin, cache=cache, source=Source(find_links=wheels), python=PYTHON) == held
    other = Pin(name="otherdep", version="1.0", hashes=frozenset({"b" * 64}))
    with pytest.raises(WheelhouseUnavailable) as refused:
        fetch(other, cache=cache, source=Source(find_links=wheels), python=PYTHON)
    message = str(refused.value)
    assert "\n" not in message and f"cannot write to {cache}: Read-only file system" in message


def test_a_cache_path_that_is_not_a_directory_is_refused_in_one_line(tmp_path, index):
    wheels, pin = index
    cache = tmp_path / "cache"
    cache.write_text("not a directory")
    with pytest.raises(WheelhouseUnavailable) as refused:
        fetch(pin, cache=cache, source=Source(find_links=wheels), python=PYTHON)
    assert "\n" not in str(refused.value) and f"cannot write to {cache}" in str(refused.value)


def test_the_package_index_replaces_pypi_and_a_local_directory_reads_no_index():
    assert Source(index_url="https://pypi.internal.example/simple").pip_options() == [
        "--index-url",
        "https://pypi.internal.example/simple",
    ]
    assert Source().pip_options() == [] and Source().label == "PyPI"
    assert Source(find_links=Path("/w")).pip_options() == ["--no-index", "--find-links", "/w"]


@pytest.mark.parametrize(
    ("tag", "fits"),
    [
        ("cp312-cp312-manylinux_2_28_x86_64", True),
        ("cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64", True),
        ("cp312-cp312-macosx_11_0_arm64", False),
        ("cp311-cp311-manylinux_2_28_x86_64", False),
    ],
)
def test_binary_wheels_are_chosen_for_the_runtimes_python_on_linux_x86_64(tmp_path, index, tag, fits):
    """The runner may be a Mac or run another Python: what it fetches is for the cluster (CPython 3.12, Linux x86_64;
    pip widens no perennial manylinux tag by itself, so manylinux_2_28 is named)."""
    wheels, pin = index
    binary = tmp_path / "binary"
    binary.mkdir()
    (binary / f"tinydep-1.2.3-{tag}.whl").write_bytes(
        (wheels / "tinydep-1.2.3-py3-none-any.whl").read_bytes()
    )
    if fits:
        got = fetch(pin, cache=tmp_path / "cache", source=Source(find_links=binary), python=PYTHON)
        assert got.name == f"tinydep-1.2.3-{tag}.whl"
    else:
        with pytest.raises(WheelhouseUnavailable, match=r"^tinydep==1\.2\.3: not in the wheelhouse cache"):
            fetch(pin, cache=tmp_path / "cache", source=Source(find_links=binary), python=PYTHON)


def test_download_directories_of_killed_fetches_are_removed_and_running_ones_kept(tmp_path, index):
    wheels, pin = index
    cache = tmp_path / "cache"
    abandoned, running = cache / ".fetch-killed", cache / ".fetch-running"
    for private in (abandoned, running):
        private.mkdir(parents=True)
    old = time.time() - 2 * 3600
    os.utime(abandoned, (old, old))
    fetch(pin, cache=cache, source=Source(find_links=wheels), python=PYTHON)
    assert not abandoned.exists() and running.is_dir()
