"""Aspects that see a whole stack's synthesized configuration in one pass, in Python.

cdktf's ``IAspect`` visits every construct through a callback from the jsii Node.js runtime into Python, and
every property the aspect reads or sets is one more round trip: about 110 callbacks per stack per aspect. At 50
team-envs that was nearly half of the synth time. An ``AspectStack`` instead hands its aspects the stack's
Terraform configuration once, as cdktf is about to write it (tokens resolved, references read
``${azurerm_key_vault.secrets_vault_97F902B8.id}``), and writes what they changed. It runs on every path that
synthesizes the stack: ``app.synth()``, ``cdktf synth`` and ``Testing.synth``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from cdktf import App, TerraformStack
from constructs import Construct, IConstruct


@dataclass(frozen=True)
class Suppression:
    """An exemption of one construct (and everything under it) from one policy rule."""

    rule_id: str
    reason: str
    path: str
    """Construct path of the exempted scope, e.g. ``churn-dev-platform/secrets/vault``."""

    def covers(self, path: str) -> bool:
        return path == self.path or path.startswith(f"{self.path}/")


@dataclass(frozen=True)
class SynthesizedBlock:
    """One resource or provider block of the stack; ``config`` is the dict that will be written."""

    type: str
    """Terraform resource type (``azurerm_key_vault``) or provider name (``azurerm``)."""
    name: str
    """Logical ID of a resource, or the alias (else the name) of a provider."""
    config: dict[str, Any]
    path: str
    """Construct path, e.g. ``churn-dev-platform/secrets/vault``; for providers ``<stack>/<provider name>``."""

    @property
    def address(self) -> str:
        """``<type>.<logical id>``: how other resources of the stack reference this one (``${<address>.id}``)."""
        return f"{self.type}.{self.name}"


class SynthesizedStack:
    """The Terraform JSON of one stack while it is being written, with the lookups aspects share."""

    def __init__(self, *, name: str, document: dict[str, Any], suppressions: tuple[Suppression, ...] = ()):
        self.name = name
        self.document = document
        self.suppressions = suppressions

    def resources(self, resource_type: str | None = None) -> Iterator[SynthesizedBlock]:
        """Every resource block (of ``resource_type``, if given), in the order of the document."""
        by_type = self.document.get("resource") or {}
        types = [resource_type] if resource_type else list(by_type)
        for kind in types:
            for logical_id, config in (by_type.get(kind) or {}).items():
                metadata = (config.get("//") or {}).get("metadata") or {}
                yield SynthesizedBlock(
                    kind, logical_id, config, metadata.get("path", f"{self.name}/{logical_id}")
                )

    def providers(self) -> Iterator[SynthesizedBlock]:
        """Every provider block. cdktf writes no construct path for providers: ``<stack>/<provider name>``
        stands in, which matches a suppression on the stack or on a provider construct with that ID."""
        for kind, blocks in (self.document.get("provider") or {}).items():
            for config in blocks if isinstance(blocks, list) else [blocks]:
                yield SynthesizedBlock(kind, config.get("alias", kind), config, f"{self.name}/{kind}")

    def suppressions_of(self, path: str) -> list[Suppression]:
        """Suppressions attached to the construct at ``path`` or to any scope above it."""
        return [s for s in self.suppressions if s.covers(path)]


class StackAspect(Protocol):
    """Reads, checks or changes a stack's synthesized configuration; raising fails the synth."""

    def visit(self, stack: SynthesizedStack) -> None: ...


class AspectStack(TerraformStack):
    """A ``TerraformStack`` whose aspects and policy suppressions are applied to its synthesized configuration."""

    def __init__(self, scope: Construct, id: str) -> None:
        if isinstance(scope, App) and scope.hcl_output:
            # cdktf writes HCL (SYNTH_HCL_OUTPUT=true) without calling to_terraform: refuse rather than write
            # stacks that skipped their tags and policy checks.
            raise RuntimeError(
                f"{id}: HCL output is not supported; the stack aspects (tags, policy) apply to the JSON "
                "configuration. Unset SYNTH_HCL_OUTPUT."
            )
        super().__init__(scope, id)
        self._stack_name = id  # node.id would be a round trip to the jsii runtime on every synth
        self._stack_aspects: list[StackAspect] = []
        self._suppressions: list[Suppression] = []

    def add_aspect(self, aspect: StackAspect) -> None:
        """Run ``aspect`` over the configuration of this stack whenever it is synthesized, in the order added."""
        self._stack_aspects.append(aspect)

    def add_suppression(self, suppression: Suppression) -> None:
        self._suppressions.append(suppression)

    def to_terraform(self) -> Any:
        # cdktf calls this once per synth of the stack and writes what it returns to cdk.tf.json.
        document = super().to_terraform()
        view = SynthesizedStack(
            name=self._stack_name, document=document, suppressions=tuple(self._suppressions)
        )
        for aspect in self._stack_aspects:
            aspect.visit(view)
        return document


def aspect_stack_of(construct: IConstruct) -> AspectStack | None:
    """The ``AspectStack`` that holds ``construct``, or None when its stack is a plain ``TerraformStack``."""
    stack = TerraformStack.of(construct)
    return stack if isinstance(stack, AspectStack) else None
