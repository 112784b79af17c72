"""The validation gate's rules: which checks a challenger must pass and what the gate then does.

Pure: it gets both models' hold-out scores and returns checks and a decision; `jobs/validate.py` gathers the
scores, applies the decision to the registry and writes the report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from churn.errors import ChurnError
from churn.fairness import FairnessReport
from churn.thresholds import DRY_RUN, ENFORCE, GATE_MODES, GateThresholds

__all__ = ["DRY_RUN", "ENFORCE", "GATE_MODES", "GateThresholds"]

# Exit code of `churn validate` (and `churn pipeline`) when an enforced gate rejects the challenger.
GATE_FAILED_EXIT_CODE = 1


@dataclass(frozen=True)
class ModelScores:
    """One registered model evaluated on the challenger's hold-out."""

    version: str
    run_id: str
    threshold: float
    metrics: dict[str, float]
    fairness: FairnessReport

    def as_dict(self) -> dict[str, object]:
        return {
            "version": self.version,
            "run_id": self.run_id,
            "decision_threshold": self.threshold,
            "metrics": self.metrics,
            "fairness": self.fairness.as_dict(),
        }


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    observed: float
    limit: float
    rule: str


@dataclass(frozen=True)
class GateDecision:
    mode: str
    checks: list[Check]
    had_champion: bool
    promote: bool
    message: str

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def exit_code(self) -> int:
        return GATE_FAILED_EXIT_CODE if self.mode == ENFORCE and not self.passed else 0

    def as_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "passed": self.passed,
            "promoted": self.promote,
            "had_champion": self.had_champion,
            "message": self.message,
            "checks": [asdict(check) for check in self.checks],
        }


def gate_checks(
    challenger: ModelScores, champion: ModelScores | None, thresholds: GateThresholds
) -> list[Check]:
    roc_auc = challenger.metrics["roc_auc"]
    gap = challenger.fairness.max_equalized_odds_difference
    checks = [
        Check("roc_auc_floor", roc_auc >= thresholds.min_roc_auc, roc_auc, thresholds.min_roc_auc,
              "challenger ROC AUC >= floor"),
        Check("fairness_gap", gap <= thresholds.max_fairness_gap, gap, thresholds.max_fairness_gap,
              "worst equalized odds difference over the sensitive attributes <= limit"),
    ]  # fmt: skip
    if champion is not None:
        drop = champion.metrics["roc_auc"] - roc_auc
        checks.append(
            Check("roc_auc_drop_vs_champion", drop <= thresholds.max_roc_auc_drop, drop,
                  thresholds.max_roc_auc_drop, "champion ROC AUC - challenger ROC AUC <= limit")
        )  # fmt: skip
    return checks


def decide(
    challenger: ModelScores, champion: ModelScores | None, thresholds: GateThresholds, mode: str
) -> GateDecision:
    """Enforce: promote exactly when every check passes. Dry-run: report only, never replace a champion;
    with no champion at all there is nothing to protect, so the first version is installed to let scoring
    start (the message says so)."""
    if mode not in GATE_MODES:
        raise ChurnError(f"--mode: '{mode}' is not one of {', '.join(GATE_MODES)}")
    checks = gate_checks(challenger, champion, thresholds)
    passed = all(check.passed for check in checks)
    failed = ", ".join(check.name for check in checks if not check.passed)
    version = f"version {challenger.version}"
    if champion is None:
        if mode == ENFORCE:
            promote = passed
            message = (
                f"no champion yet: {version} passed the absolute checks and becomes champion"
                if passed
                else f"no champion yet and {version} failed {failed}: no champion is set"
            )
        else:
            promote = True
            message = f"no champion yet: {version} becomes champion (dry-run; the gate would have " + (
                "passed)" if passed else f"failed {failed})"
            )
    elif mode == ENFORCE:
        promote = passed
        message = (
            f"{version} passed and replaces champion version {champion.version}"
            if passed
            else f"{version} failed {failed}; champion stays version {champion.version}"
        )
    else:
        promote = False
        outcome = "would pass" if passed else f"would fail {failed}"
        message = f"dry-run: {version} {outcome}; champion stays version {champion.version}"
    return GateDecision(mode, checks, champion is not None, promote, message)
