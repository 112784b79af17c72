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
    detail: str = ""


@dataclass(frozen=True)
class Evidence:
    """What the gate knows beyond the challenger's hold-out: both models on the pinned evaluation set (the
    rows of it the challenger never trained on), and the drift of the challenger's training data from the
    champion's."""

    training_rows: int | None = None  # labelled rows the challenger was trained and held out on
    minority_share: float | None = None  # share of the rarer class in them
    pinned_challenger: ModelScores | None = None
    pinned_champion: ModelScores | None = None
    pinned_rows: int = 0
    pinned_agreement: float | None = None  # Spearman rank correlation of the two models' probabilities
    pinned_problem: str = ""  # why the pinned comparison could not be made (with a champion)
    drifted_features: tuple[str, ...] | None = None  # None: not measured (no champion)
    drift_detail: str = ""
    notes: tuple[str, ...] = ()


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
    challenger: ModelScores,
    champion: ModelScores | None,
    thresholds: GateThresholds,
    evidence: Evidence = Evidence(),
) -> list[Check]:
    roc_auc = challenger.metrics["roc_auc"]
    gap = challenger.fairness.max_equalized_odds_difference
    checks = [
        Check("roc_auc_floor", roc_auc >= thresholds.min_roc_auc, roc_auc, thresholds.min_roc_auc,
              "challenger ROC AUC >= floor"),
        Check("fairness_gap", gap <= thresholds.max_fairness_gap, gap, thresholds.max_fairness_gap,
              "worst equalized odds difference over the sensitive attributes <= limit"),
        Check("roc_auc_leak_ceiling", roc_auc <= thresholds.max_roc_auc, roc_auc, thresholds.max_roc_auc,
              "challenger ROC AUC <= ceiling: a near-perfect score is a leaked label to investigate"),
    ]  # fmt: skip
    if evidence.training_rows is not None:
        rows = evidence.training_rows
        checks.append(
            Check("training_rows_floor", rows >= thresholds.min_training_rows, float(rows),
                  float(thresholds.min_training_rows), "labelled training rows >= floor")
        )  # fmt: skip
    if evidence.minority_share is not None:
        share = evidence.minority_share
        checks.append(
            Check("class_balance_floor", share >= thresholds.min_minority_share, share,
                  thresholds.min_minority_share, "share of the rarer class in the training data >= floor")
        )  # fmt: skip
    if champion is not None and evidence.pinned_problem:
        # A comparison that cannot be made is not a comparison passed.
        checks.append(
            Check("pinned_set_comparison", False, float(evidence.pinned_rows), float(thresholds.min_pinned_rows),
                  "challenger and champion compared on the pinned evaluation set", evidence.pinned_problem)
        )  # fmt: skip
    if champion is not None:
        drop = champion.metrics["roc_auc"] - roc_auc
        checks.append(
            Check("roc_auc_drop_vs_champion", drop <= thresholds.max_roc_auc_drop, drop,
                  thresholds.max_roc_auc_drop, "champion ROC AUC - challenger ROC AUC <= limit")
        )  # fmt: skip
    if evidence.pinned_challenger is not None and evidence.pinned_champion is not None:
        drop = evidence.pinned_champion.metrics["roc_auc"] - evidence.pinned_challenger.metrics["roc_auc"]
        checks.append(
            Check("roc_auc_drop_on_pinned_set", drop <= thresholds.max_roc_auc_drop, drop,
                  thresholds.max_roc_auc_drop,
                  "on the pinned evaluation set: champion ROC AUC - challenger ROC AUC <= limit",
                  f"{evidence.pinned_rows} pinned rows the challenger never trained on")
        )  # fmt: skip
    if evidence.pinned_agreement is not None:
        agreement = evidence.pinned_agreement
        checks.append(
            Check("pinned_agreement", agreement >= thresholds.min_pinned_agreement, agreement,
                  thresholds.min_pinned_agreement,
                  "Spearman rank correlation of challenger and champion probabilities on the pinned set >= floor",
                  f"{evidence.pinned_rows} pinned rows")
        )  # fmt: skip
    if evidence.drifted_features is not None:
        drifted = evidence.drifted_features
        checks.append(
            Check("training_data_drift", not drifted, float(len(drifted)), 0.0,
                  "no feature of the challenger's training data drifted from the champion's training data",
                  evidence.drift_detail)
        )  # fmt: skip
    return checks


def decide(
    challenger: ModelScores,
    champion: ModelScores | None,
    thresholds: GateThresholds,
    mode: str,
    evidence: Evidence = Evidence(),
) -> GateDecision:
    """Enforce: promote exactly when every check passes. Dry-run: report only, never replace a champion.
    With no champion, a challenger becomes the first champion only if it passes the absolute checks, in
    either mode: a model below the floors never scores customers."""
    if mode not in GATE_MODES:
        raise ChurnError(f"--mode: '{mode}' is not one of {', '.join(GATE_MODES)}")
    checks = gate_checks(challenger, champion, thresholds, evidence)
    passed = all(check.passed for check in checks)
    failed = ", ".join(
        check.name + (f" ({check.detail})" if check.detail else "") for check in checks if not check.passed
    )
    version = f"version {challenger.version}"
    if champion is None:
        promote = passed
        dry = " (dry-run)" if mode != ENFORCE else ""
        message = (
            f"no champion yet: {version} passed the absolute checks and becomes champion{dry}"
            if passed
            else f"no champion yet and {version} failed {failed}: no champion is set{dry}"
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
