"""The security baseline as synth-time rules (after cdk-nag).

``engine`` holds the machinery (rule type, context, suppressions, the aspect) and imports no rules; each module in
``packs`` is one small rule pack for one cloud or service and imports the engine; a stack composes the aspect
with the packs it needs: ``PolicyAspect(team_env=..., packs=[*AZURE, *COMMON])``.
"""

from infra.aspects.policy.engine import (
    SUPPRESSIONS_JSON_KEY,
    PolicyAspect,
    PolicyViolations,
    Rule,
    RuleContext,
    RulePack,
    all_suppressions,
    known_rules,
    suppress,
)

__all__ = [
    "SUPPRESSIONS_JSON_KEY",
    "PolicyAspect",
    "PolicyViolations",
    "Rule",
    "RuleContext",
    "RulePack",
    "all_suppressions",
    "known_rules",
    "suppress",
]
