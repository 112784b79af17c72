"""The whole flow in order: ingest -> train (and register) -> score, plus the metrics summary."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from churn.jobs import Report, no_report
from churn.jobs.ingest import IngestResult, run_ingest
from churn.jobs.score import ScoreResult, run_score
from churn.jobs.train import TrainResult, TrainSettings, run_train
from churn.runtime import Runtime


@dataclass(frozen=True)
class PipelineResult:
    ingest: IngestResult
    train: TrainResult
    score: ScoreResult

    def metrics(self) -> dict[str, object]:
        """Hold-out and CV metrics of the trained model, with what was registered and scored."""
        return {
            **self.train.summary(),
            "rows_ingested": self.ingest.rows_read,
            "rows_quarantined": self.ingest.rows_quarantined,
            "rows_scored": self.score.rows_scored,
            "scored_model_version": self.score.model_version,
        }


def run_pipeline(
    runtime: Runtime, input_path: str, settings: TrainSettings | None = None, *, report: Report = no_report
) -> PipelineResult:
    ingested = run_ingest(runtime, input_path, report=report)
    trained = run_train(runtime, settings or TrainSettings(), report=report)
    scored = run_score(runtime, report=report)
    return PipelineResult(ingest=ingested, train=trained, score=scored)


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
