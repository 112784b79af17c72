"""The provider packages are imported one resource module at a time (infra/provider_bindings.py): synth pays for the
modules its stacks use, not for every module of each provider, and writes the same bytes as the eager import."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.provider_bindings import EAGER_ENV_VAR, PROVIDER_PACKAGES

ROOT = Path(__file__).resolve().parents[2]


def _resource_modules_of(package: str) -> set[str]:
    directory = Path(sys.modules[package].__path__[0])
    return {path.name for path in directory.iterdir() if (path / "__init__.py").is_file()} - {"_jsii"}


def _imported_resource_modules_of(package: str) -> set[str]:
    prefix = f"{package}."
    children = {name.removeprefix(prefix).split(".")[0] for name in sys.modules if name.startswith(prefix)}
    return children - {"_jsii"}  # `publication` adds <module>._private beside each one


@pytest.mark.parametrize("package", sorted(PROVIDER_PACKAGES))
def test_synth_imports_only_the_resource_modules_its_stacks_use(synthesized, package):
    """The committed config (Azure and AWS teams) uses tens of each provider's hundreds to thousands of modules."""
    available = _resource_modules_of(package)
    imported = _imported_resource_modules_of(package)
    assert imported, f"{package}: the session synth imported none of its resource modules"
    assert imported <= available
    assert len(imported) < len(available) / 4, f"{package}: {len(imported)} of {len(available)} imported"


def test_a_resource_module_not_yet_imported_is_an_attribute_of_its_package(synthesized):
    """As with the eager package: `import cdktf_cdktf_provider_databricks as d; d.catalog.Catalog(...)` works."""
    import cdktf_cdktf_provider_databricks as databricks

    package = databricks.__name__
    unused = min(_resource_modules_of(package) - _imported_resource_modules_of(package))
    module = getattr(databricks, unused)
    assert module is sys.modules[f"{package}.{unused}"]
    assert any(hasattr(value, "__jsii_type__") for value in vars(module).values())  # it defines jsii types
    with pytest.raises(AttributeError, match="no attribute 'no_such_resource'"):
        databricks.no_such_resource  # noqa: B018


@pytest.mark.slow
def test_synth_writes_the_same_bytes_as_with_all_resource_modules_imported(tmp_path, synthesized, fake_wheel):
    """Every file of the output (stacks, manifest, assets), against a synth with the packages' own eager import."""
    from conftest import SYNTH_TODAY  # the session synth's date (budget start month)

    script = (  # cdktf.json's entry point, then a check that the eager import really ran
        "import sys, infra.main; infra.main.main(); "
        "assert sum(m.startswith('cdktf_cdktf_provider_aws.') for m in sys.modules) > 2000"
    )
    result = subprocess.run(
        [sys.executable, "-O", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            EAGER_ENV_VAR: "1",
            "CDKTF_OUTDIR": str(tmp_path / "out"),
            "PLATFORM_CONFIG": str(ROOT / "platform.yaml"),
            "CHURN_WHEEL": str(fake_wheel),
            "PLATFORM_SYNTH_DATE": SYNTH_TODAY.isoformat(),
        },
    )
    assert result.returncode == 0, result.stderr[-2000:]
    eager, lazy = _files(tmp_path / "out"), _files(synthesized.outdir)
    assert sorted(eager) == sorted(lazy)
    for relative, content in eager.items():
        assert content == lazy[relative], relative


def _files(root: Path) -> dict[Path, bytes]:
    return {path.relative_to(root): path.read_bytes() for path in root.rglob("*") if path.is_file()}
