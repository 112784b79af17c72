"""Terraform's dependency graph of one synthesized stack (cdk.tf.json), for create- and destroy-order tests.

Terraform orders a resource after everything its configuration refers to: every `${...}` expression anywhere in
its arguments (nested blocks included) and every `depends_on` entry. A resource also waits for its provider,
and a provider for what its own arguments refer to. Destroy runs the same graph in reverse: a resource is
destroyed before everything it depends on, directly or transitively. `create_before_destroy` only changes the
order of a replacement, not of a full destroy, so it is not modelled.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

# `type.name` or `data.type.name` at the start of an attribute path; Terraform identifiers (cdktf names
# carry dashes).
_ADDRESS = re.compile(r"(?<![\w.-])((?:data\.)?[a-z][a-z0-9_]*\.[A-Za-z_][A-Za-z0-9_-]*)")
_EXPRESSION = re.compile(r"\$\{(.*?)\}", re.DOTALL)
_NOT_CONFIG = frozenset({"//", "depends_on", "lifecycle", "provider", "count", "for_each"})


@dataclass(frozen=True)
class Node:
    address: str
    """`type.name`, `data.type.name`, `provider.name` or `output.name`."""
    type: str
    config: dict[str, Any]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in _NOT_CONFIG:
                yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def references(config: dict[str, Any]) -> set[str]:
    """Addresses that the `${...}` expressions of a configuration name (candidates; unknown ones are dropped
    by the graph)."""
    found = set()
    for text in _strings(config):
        for expression in _EXPRESSION.findall(text):
            found.update(_ADDRESS.findall(expression))
    return found


class StackGraph:
    """Nodes and direct dependencies of one stack; `depends(a, b)`: a is created after, destroyed before b."""

    def __init__(self, stack: dict[str, Any]) -> None:
        self.nodes: dict[str, Node] = {}
        for rtype, items in stack.get("resource", {}).items():
            for name, config in items.items():
                self.nodes[f"{rtype}.{name}"] = Node(f"{rtype}.{name}", rtype, config)
        for dtype, items in stack.get("data", {}).items():
            for name, config in items.items():
                self.nodes[f"data.{dtype}.{name}"] = Node(f"data.{dtype}.{name}", dtype, config)
        for ptype, configs in stack.get("provider", {}).items():
            for config in configs:
                address = f"provider.{ptype}" + (f".{config['alias']}" if config.get("alias") else "")
                self.nodes[address] = Node(address, ptype, config)
        for name, config in stack.get("output", {}).items():
            self.nodes[f"output.{name}"] = Node(f"output.{name}", "output", config)
        self.edges: dict[str, set[str]] = {}
        for address, node in self.nodes.items():
            wanted = references(node.config) | set(node.config.get("depends_on") or [])
            if not address.startswith(("provider.", "output.")):
                # `"provider": "azurerm.hub"` names the node `provider.azurerm.hub`.
                provider = node.config.get("provider")
                wanted.add(f"provider.{provider}" if provider else f"provider.{node.type.split('_', 1)[0]}")
            self.edges[address] = {ref for ref in wanted if ref in self.nodes and ref != address}

    def of_type(self, rtype: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.type == rtype and not n.address.startswith("data.")]

    @cache  # noqa: B019 - a graph is built once per stack and lives as long as the test session
    def ancestors(self, address: str) -> frozenset[str]:
        """Everything `address` depends on, directly or transitively."""
        seen: set[str] = set()
        stack = list(self.edges[address])
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(self.edges[current])
        return frozenset(seen)

    def depends(self, dependent: str, dependency: str) -> bool:
        """Terraform creates `dependent` after `dependency` and destroys it before."""
        return dependency in self.ancestors(dependent)

    def destroyed_before(self, first: str, then: str) -> bool:
        return self.depends(first, then)

    def dependents(self, address: str) -> list[str]:
        """Everything that depends on `address`, directly or transitively."""
        return sorted(a for a in self.nodes if address in self.ancestors(a))

    def destroy_order(self) -> list[str]:
        """One order Terraform may destroy the resources in (dependents first); a cycle raises ValueError."""
        remaining = {a: set(deps) for a, deps in self.edges.items()}
        order: list[str] = []
        while remaining:
            # A node may go once nothing left depends on it.
            depended_on = {d for deps in remaining.values() for d in deps}
            ready = sorted(a for a in remaining if a not in depended_on)
            if not ready:
                raise ValueError(f"dependency cycle among {sorted(remaining)}")
            for address in ready:
                order.append(address)
                del remaining[address]
        return order
