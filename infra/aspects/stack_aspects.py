"""Aspects that see a whole stack's synthesized configuration in one pass, in Python.

cdktf's ``IAspect`` visits every construct through a callback from the jsii Node.js runtime into Python, and
every property the aspect reads or sets is one more round trip: about 110 callbacks per stack per aspect. At 50
team-envs that was nearly half of the synth time. Stack aspects instead read each stack's Terraform
configuration once, as cdktf wrote it (tokens resolved, references read ``${azurerm_key_vault.vault_97F9.id}``),
and the stack is rewritten with what they changed. ``AspectApp.synth`` does this right after cdktf has written
the stacks, from the files, so the configuration never crosses into Python and back through jsii (which cost
another ~10% of synth). Every path that synthesizes our stacks goes through it: ``platform synth``,
``cdktf synth`` / ``deploy`` (cdktf.json runs ``infra.main``), the tests. ``Testing.synth(stack)`` does not: it
returns the configuration before the stack aspects.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cdktf import App, TerraformStack
from constructs import IConstruct

from infra.aspects import stack_json


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


class AspectApp(App):
    """A cdktf ``App`` that runs each ``AspectStack``'s aspects over the stack as written, when it synthesizes."""

    def __init__(self, **app_options: Any) -> None:
        """``app_options``: as cdktf's ``App`` takes them (``outdir``, ``context``, ...)."""
        super().__init__(**app_options)
        if self.hcl_output:
            # SYNTH_HCL_OUTPUT=true: cdktf would write HCL, which the aspects cannot read or change. Refuse rather
            # than write stacks that skipped their tags and policy checks.
            raise RuntimeError(
                "HCL output is not supported: the stack aspects (tags, policy) apply to the JSON configuration. "
                "Unset SYNTH_HCL_OUTPUT."
            )
        self._aspect_stacks: list[AspectStack] = []

    def add_aspect_stack(self, stack: AspectStack) -> None:
        self._aspect_stacks.append(stack)

    def synth(self) -> None:
        """Synthesize every stack, then apply the stack aspects to what cdktf wrote.

        When an aspect fails (a policy violation), the stacks and the manifest of this synth are removed, so no
        unchecked configuration is left for ``cdktf deploy --skip-synth`` or ``terraform apply`` to pick up.
        """
        super().synth()
        outdir = Path(self.outdir)
        manifest_path = outdir / "manifest.json"
        manifest = json.loads(manifest_path.read_text())
        written = {name: outdir / entry["synthesizedStackPath"] for name, entry in manifest["stacks"].items()}
        try:
            rewritten: dict[Path, dict[str, Any]] = {}
            for stack in self._aspect_stacks:
                path = written[stack.stack_name]
                document = stack.apply_aspects(json.loads(path.read_text()))
                if document is not None:
                    rewritten[path] = document
            for path, document in rewritten.items():
                staged = path.with_name(f".{path.name}.tmp")
                staged.write_text(stack_json.dumps(document))
                staged.replace(path)
        except BaseException:
            for path in [*written.values(), manifest_path]:
                path.unlink(missing_ok=True)
                path.with_name(f".{path.name}.tmp").unlink(missing_ok=True)
            raise


class AspectStack(TerraformStack):
    """A ``TerraformStack`` with stack aspects and policy suppressions; it belongs directly to an ``AspectApp``."""

    def __init__(self, scope: AspectApp, id: str) -> None:
        if not isinstance(scope, AspectApp):
            raise TypeError(
                f"{id}: an AspectStack belongs to an AspectApp, whose synth applies the stack aspects"
            )
        super().__init__(scope, id)
        self.stack_name = id  # node.id would be a round trip to the jsii runtime
        self._stack_aspects: list[StackAspect] = []
        self._suppressions: list[Suppression] = []
        scope.add_aspect_stack(self)

    def add_aspect(self, aspect: StackAspect) -> None:
        """Run ``aspect`` over the configuration of this stack whenever it is synthesized, in the order added."""
        self._stack_aspects.append(aspect)

    def add_suppression(self, suppression: Suppression) -> None:
        self._suppressions.append(suppression)

    def apply_aspects(self, document: dict[str, Any]) -> dict[str, Any] | None:
        """Run the aspects over ``document`` (changing it in place); None when the stack has no aspects."""
        if not self._stack_aspects:
            return None
        view = SynthesizedStack(
            name=self.stack_name, document=document, suppressions=tuple(self._suppressions)
        )
        for aspect in self._stack_aspects:
            aspect.visit(view)
        return document


def aspect_stack_of(construct: IConstruct) -> AspectStack | None:
    """The ``AspectStack`` that holds ``construct``, or None when its stack is a plain ``TerraformStack``."""
    stack = TerraformStack.of(construct)
    return stack if isinstance(stack, AspectStack) else None
