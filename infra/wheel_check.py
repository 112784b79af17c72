"""Check a freshly built churn wheel before anything uses it: complete, intact, and exactly the source's files.

A wheel missing a module deploys fine and fails on the cluster at the first import. Two builds of one checkout
at once (a synth and a deploy) once shared setuptools' ``ml/build`` and could ship such a wheel; the build is
locked per checkout now (wheel.py), and this check is what catches any other way a wheel comes out short.
"""

import base64
import hashlib
import tomllib
import zipfile
from pathlib import Path

# What the source tree holds that a wheel never carries.
NOT_SHIPPED_DIRS = frozenset({"__pycache__"})
NOT_SHIPPED_SUFFIXES = (".pyc", ".pyo")


class IncompleteWheel(Exception):
    """The built wheel is corrupt, disagrees with its RECORD, or lacks (or adds) a file of the source."""


def check_wheel(wheel: Path, *, project_dir: Path) -> None:
    """IncompleteWheel unless ``wheel`` is a sound zip whose RECORD matches every member, that ships every module
    and package-data file of the project's ``src/`` and nothing that is not in ``src/``."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            broken = archive.testzip()
            if broken is not None:
                raise IncompleteWheel(f"{wheel.name}: {broken} is corrupt (bad CRC)")
            members = {info.filename: info for info in archive.infolist() if not info.is_dir()}
            record = _record(archive, members)
            _check_record(archive, members, record, wheel.name)
    except zipfile.BadZipFile as exc:
        raise IncompleteWheel(f"{wheel.name}: not a readable wheel ({exc})") from None
    source = project_dir / "src"
    shipped = {name for name in members if not name.split("/", 1)[0].endswith((".dist-info", ".data"))}
    missing = sorted(required_files(project_dir) - shipped)
    if missing:
        raise IncompleteWheel(f"{wheel.name} lacks {_few(missing)} of {source}")
    extra = sorted(shipped - _files(source))
    if extra:
        raise IncompleteWheel(f"{wheel.name} holds {_few(extra)}, which {source} does not")


def required_files(project_dir: Path) -> set[str]:
    """What the wheel must ship, as member names (``churn/cli.py``): every module of the packages under
    ``src/`` and the files matching the pyproject's ``[tool.setuptools.package-data]``."""
    source = project_dir / "src"
    packages = (
        [path for path in source.iterdir() if (path / "__init__.py").is_file()] if source.is_dir() else []
    )
    required = {
        name
        for name in _files(source)
        if name.endswith(".py") and name.split("/", 1)[0] in {p.name for p in packages}
    }
    settings = (
        tomllib.loads((project_dir / "pyproject.toml").read_text()).get("tool", {}).get("setuptools", {})
    )
    for package, patterns in settings.get("package-data", {}).items():
        root = source / package.replace(".", "/")
        for pattern in patterns:
            required |= {path.relative_to(source).as_posix() for path in root.glob(pattern) if path.is_file()}
    return required


def _files(source: Path) -> set[str]:
    """Every file under ``source`` as a member name; caches and egg-info left out."""
    if not source.is_dir():
        return set()
    return {
        path.relative_to(source).as_posix()
        for path in source.rglob("*")
        if path.is_file()
        and not path.name.endswith(NOT_SHIPPED_SUFFIXES)
        and not any(
            part in NOT_SHIPPED_DIRS or part.endswith(".egg-info") for part in path.relative_to(source).parts
        )
    }


def _record(archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo]) -> dict[str, tuple[str, str]]:
    records = [name for name in members if name.endswith(".dist-info/RECORD") and name.count("/") == 1]
    if len(records) != 1:
        raise IncompleteWheel(f"{archive.filename}: {len(records)} RECORD files, expected one")
    rows = {}
    for line in archive.read(records[0]).decode().splitlines():
        if line.strip():
            path, digest, size = line.rsplit(",", 2)
            rows[path] = (digest, size)
    return rows


def _check_record(
    archive: zipfile.ZipFile,
    members: dict[str, zipfile.ZipInfo],
    record: dict[str, tuple[str, str]],
    name: str,
) -> None:
    unlisted = sorted(set(members) - set(record))
    if unlisted:
        raise IncompleteWheel(f"{name}: {_few(unlisted)} not in its RECORD")
    for path, (digest, size) in record.items():
        if path not in members:
            raise IncompleteWheel(f"{name}: its RECORD lists {path}, which it lacks")
        if not digest:  # RECORD itself carries no hash
            continue
        algorithm, _, expected = digest.partition("=")
        data = archive.read(path)
        actual = base64.urlsafe_b64encode(hashlib.new(algorithm, data).digest()).rstrip(b"=").decode()
        if actual != expected or (size and int(size) != len(data)):
            raise IncompleteWheel(f"{name}: {path} does not match its RECORD hash")


def _few(names: list[str]) -> str:
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
