"""The whole flow in order: ingest -> train (register a challenger) -> validate (the gate picks the champion) ->
score with the champion -> monitor drift, plus the metrics summary."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from churn.drift import DriftThresholds
from churn.gate import ENFORCE, GateThresholds
from churn.jobs import Report, no_report
from churn.jobs.ingest import IngestResult, run_ingest
from churn.jobs.monitor import MonitorResult, run_monitor
from churn.jobs.score import ScoreResult, run_score
from churn.jobs.train import TrainResult, TrainSettings, run_train
from churn.jobs.validate import ValidationResult, run_validate
from churn.runtime import Runtime


@dataclass(frozen=True)
class PipelineResult:
    ingest: IngestResult
    train: TrainResult
    validation: ValidationResult
    score: ScoreResult | None  # None when the gate left no champion to score with
    monitor: MonitorResult | None

    def metrics(self) -> dict[str, object]:
        """Hold-out and CV metrics of the trained model, the gate's verdict, what was scored and drift."""
        decision = self.validation.decision
        return {
            **self.train.summary(),
            "aliases": self.validation_aliases(),
            "rows_ingested": self.ingest.rows_read,
            "rows_quarantined": self.ingest.rows_quarantined,
            "gate_mode": decision.mode,
            "gate_passed": decision.passed,
            "gate_message": decision.message,
            "champion_version": self.validation.champion_version,
            "rows_scored": self.score.rows_scored if self.score else 0,
            "scored_model_version": self.score.model_version if self.score else None,
            "drift_detected": self.monitor.report.drift_detected if self.monitor else None,
        }

    def validation_aliases(self) -> list[str]:
        champion = self.validation.champion_version == self.train.model_version
        return [*self.train.aliases, *(["champion"] if champion else [])]


def run_pipeline(
    runtime: Runtime,
    input_path: str,
    settings: TrainSettings | None = None,
    *,
    gate: GateThresholds | None = None,
    gate_mode: str = ENFORCE,
    drift: DriftThresholds | None = None,
    max_quarantined_share: float | None = None,
    report: Report = no_report,
) -> PipelineResult:
    ingested = run_ingest(runtime, input_path, max_quarantined_share=max_quarantined_share, report=report)
    trained = run_train(runtime, settings or TrainSettings(), report=report)
    validated = run_validate(runtime, gate, mode=gate_mode, report=report)
    scored = monitored = None
    if validated.champion_version is not None:
        # Only the customers new since the last scoring run; the monitor compares exactly that batch with the
        # champion's training data.
        scored = run_score(runtime, report=report)
        if scored.rows_scored:
            monitored = run_monitor(runtime, reference=None, current=None, thresholds=drift, report=report)
    return PipelineResult(ingested, trained, validated, scored, monitored)


def write_json_atomically(payload: dict[str, object], path: Path) -> None:
    """Readers never see a half-written file: write beside it, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(payload, out, indent=2, sort_keys=True)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
