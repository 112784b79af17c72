"""The policy engine: rules with stable IDs, grouped in packs; a violation fails synth unless the resource carries a
suppression for that rule with a written reason.

Rules read the resource arguments exactly as they are synthesized (the stack's configuration as it is written
to cdk.tf.json), so what is checked is what deploys. Provider blocks are checked too (no credentials), and rules
that relate two resources (a diagnostic setting to its target, a role assignment to the access connector) read
the other resources of the same stack. This module imports no pack: packs import it (docs/security.md lists every
rule and how to suppress one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from constructs import IConstruct

from infra.aspects.stack_aspects import Suppression, SynthesizedBlock, SynthesizedStack, aspect_stack_of
from infra.config import TeamEnv

SUPPRESSION_METADATA = "platform:policy-suppression"
# Where a resource's suppressions are written in cdk.tf.json: Terraform ignores "//" keys, and `platform scan`
# lists them from the files it scans, so the list matches what is deployed even with --skip-synth.
SUPPRESSIONS_JSON_KEY = "policy_suppressions"
MIN_REASON_LENGTH = 15


@dataclass(frozen=True)
class RuleContext:
    """What a rule may need beyond the resource's own arguments."""

    team_env: TeamEnv
    address: str
    """``<type>.<logical id>``: how other resources of the stack reference this one (``${<address>.id}``)."""
    stack: SynthesizedStack
    """The whole stack, for rules that relate two resources (a diagnostic setting to its target)."""


Check = Callable[[dict[str, Any], RuleContext], str | None]


@dataclass(frozen=True)
class Rule:
    id: str
    resource_types: tuple[str, ...]
    """Terraform resource types (or provider names, for provider rules) the rule applies to."""
    description: str
    check: Check
    """Returns what is wrong with the resource config, or None when it complies."""


# Every rule of every pack that has been defined, by ID: suppressions must name one of them.
_KNOWN_RULES: dict[str, Rule] = {}


@dataclass(frozen=True)
class RulePack:
    """A small group of rules for one cloud service (cdk-nag's rule packs)."""

    name: str
    rules: tuple[Rule, ...]

    def __post_init__(self) -> None:
        for rule in self.rules:
            known = _KNOWN_RULES.setdefault(rule.id, rule)
            if known is not rule:
                raise ValueError(f"policy rule {rule.id} is defined twice (pack {self.name})")


def known_rules() -> dict[str, Rule]:
    """The rules of every pack imported so far, by ID."""
    return dict(_KNOWN_RULES)


def reference(address: str, attribute: str = "id") -> str:
    """The interpolation cdktf writes for a reference to ``address``'s ``attribute``."""
    return "${" + f"{address}.{attribute}" + "}"


def first_block(block: Any) -> dict[str, Any]:
    """Terraform nested blocks synthesize as a dict or a one-element list."""
    if isinstance(block, list):
        return block[0] if block and isinstance(block[0], dict) else {}
    return block if isinstance(block, dict) else {}


def expect(config: dict[str, Any], key: str, wanted: Any, what: str) -> str | None:
    return None if config.get(key) == wanted else f"{what} ({key} is {config.get(key)!r}, must be {wanted!r})"


def suppress(construct: IConstruct, *, rule_id: str, reason: str) -> None:
    """Exempt ``construct`` (and everything under it) from one rule. The reason is printed by `make scan`."""
    if rule_id not in _KNOWN_RULES:
        raise ValueError(f"unknown policy rule {rule_id!r}; known: {', '.join(_KNOWN_RULES)}")
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(
            f"suppression of {rule_id} needs a reason of at least {MIN_REASON_LENGTH} characters"
        )
    stack = aspect_stack_of(construct)
    if stack is None:
        raise ValueError("policy suppressions apply to constructs of an AspectStack, where the policy runs")
    stack.add_suppression(Suppression(rule_id, reason.strip(), construct.node.path))
    # The construct metadata is the record that tools walking the tree read (all_suppressions).
    construct.node.add_metadata(SUPPRESSION_METADATA, {"rule": rule_id, "reason": reason.strip()})


def all_suppressions(root: IConstruct) -> list[Suppression]:
    """Every suppression in the tree, for review (`make scan`)."""
    return [
        Suppression(entry.data["rule"], entry.data["reason"], node.node.path)
        for node in root.node.find_all()
        for entry in node.node.metadata
        if entry.type == SUPPRESSION_METADATA
    ]


class PolicyViolations(RuntimeError):
    """Raised while a stack is synthesized; one ``[<construct path>] <rule id>: <problem>`` line per violation."""

    def __init__(self, stack: str, violations: list[str]):
        self.violations = violations
        super().__init__(f"policy violations in stack {stack}:\n" + "\n".join(violations))


class PolicyAspect:
    """Checks every resource and provider of a stack against the rules of ``packs`` and fails the synth on a
    violation. Suppressions that exempt a resource from an applicable rule are written next to it in cdk.tf.json
    (``"//": {"policy_suppressions": [...]}``), where `platform scan` lists them."""

    def __init__(self, *, team_env: TeamEnv, packs: Iterable[RulePack]):
        self.team_env = team_env
        self._rules_by_type: dict[str, list[Rule]] = {}
        for pack in packs:
            for rule in pack.rules:
                for resource_type in rule.resource_types:
                    self._rules_by_type.setdefault(resource_type, []).append(rule)

    def visit(self, stack: SynthesizedStack) -> None:
        violations = [
            *(v for block in stack.resources() for v in self._check(block, stack, is_resource=True)),
            *(v for block in stack.providers() for v in self._check(block, stack, is_resource=False)),
        ]
        if violations:
            raise PolicyViolations(stack.name, violations)

    def _check(self, block: SynthesizedBlock, stack: SynthesizedStack, *, is_resource: bool) -> list[str]:
        applicable = self._rules_by_type.get(block.type)
        if not applicable:
            return []
        rule_ids = {rule.id for rule in applicable}
        suppressions = [s for s in stack.suppressions_of(block.path) if s.rule_id in rule_ids]
        if suppressions and is_resource:
            block.config.setdefault("//", {})[SUPPRESSIONS_JSON_KEY] = [
                {"rule": s.rule_id, "reason": s.reason, "scope": s.path} for s in suppressions
            ]
        suppressed = {s.rule_id for s in suppressions}
        ctx = RuleContext(team_env=self.team_env, address=block.address, stack=stack)
        return [
            f"[{block.path}] {rule.id}: {problem}"
            for rule in applicable
            if rule.id not in suppressed and (problem := rule.check(block.config, ctx))
        ]
