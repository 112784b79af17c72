"""Import the prebuilt provider bindings one resource module at a time, not each provider's thousands at once.

Each provider package (cdktf-cdktf-provider-aws, -azurerm, -databricks) imports every one of its resource modules
from its ``__init__`` "to ensure their types are registered with the jsii runtime library": 2,135 modules for aws,
1,527 for azurerm, 249 for databricks. Evaluating their ~42,000 classes' annotations and a package-metadata lookup
per module took ~5 s of Python for aws and ~4.5 s for azurerm, and left a heap whose garbage collections slowed
the rest of the synth and the interpreter's exit (~2 s for Azure teams, ~5 s with aws). The stacks use about 90
of those modules.

Every resource module needs only its package's ``_jsii`` module (which loads the provider's jsii assembly into
the kernel, the first thing the package's ``__init__`` does), cdktf and constructs, and registers its own types
when imported. So ``install()`` lets Python create these three packages without running their ``__init__``: the
package loads its assembly, and ``from cdktf_cdktf_provider_aws.vpc import Vpc`` imports that one module. The
kernel still loads each whole assembly (its JavaScript entry point requires every resource), so the synthesized
JSON is byte for byte what the eager import writes. The only difference: a type that no imported module defines
is unknown to Python, so a value of it returned by the kernel would fail with "Unknown type: <jsii fqn>"; import
the module that defines it. ``PLATFORM_EAGER_BINDINGS=1`` restores the packages' own import, for comparison.
"""

import importlib
import importlib.abc
import importlib.machinery
import os
import sys
from functools import partial
from types import ModuleType

PROVIDER_PACKAGES = frozenset(
    {"cdktf_cdktf_provider_aws", "cdktf_cdktf_provider_azurerm", "cdktf_cdktf_provider_databricks"}
)
EAGER_ENV_VAR = "PLATFORM_EAGER_BINDINGS"


class _AssemblyOnlyFinder(importlib.abc.MetaPathFinder):
    """Finds the provider packages where Python would, and has them load their assembly and nothing else."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in PROVIDER_PACKAGES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.submodule_search_locations is None:
            return None
        spec.loader = _AssemblyOnlyLoader()
        return spec


class _AssemblyOnlyLoader(importlib.abc.Loader):
    def create_module(self, spec):
        return None  # the default module, with the package's __path__ from its spec

    def exec_module(self, module: ModuleType) -> None:
        assembly = importlib.import_module(f"{module.__name__}._jsii")
        module.__jsii_assembly__ = assembly.__jsii_assembly__
        module.__getattr__ = partial(_resource_module, module.__name__)


def _resource_module(package: str, name: str) -> ModuleType:
    """``package.<name>`` for a resource module not imported yet, as the eager package would have it."""
    if not name.startswith("__"):
        try:
            return importlib.import_module(f"{package}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{package}.{name}":
                raise
    raise AttributeError(f"module {package!r} has no attribute {name!r}")


def install() -> None:
    """Import the provider packages lazily from now on (idempotent); a no-op with PLATFORM_EAGER_BINDINGS=1."""
    if os.environ.get(EAGER_ENV_VAR) == "1":
        return
    if not any(isinstance(finder, _AssemblyOnlyFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AssemblyOnlyFinder())
