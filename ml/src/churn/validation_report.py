"""The validation gate's report: JSON for machines, one self-contained HTML page (plots inlined) for people."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # jobs and tests have no display

import numpy as np
from matplotlib import pyplot as plt
from sklearn.metrics import RocCurveDisplay

from churn.fairness import plot_fairness
from churn.gate import GateDecision, ModelScores

REPORT_JSON = "validation_report.json"
REPORT_HTML = "validation_report.html"
SHOWN_METRICS = ("roc_auc", "pr_auc", "f1", "precision", "recall", "brier", "log_loss")


def report_payload(
    model_name: str,
    decision: GateDecision,
    thresholds: dict[str, float],
    challenger: ModelScores,
    champion: ModelScores | None,
    data: dict[str, str],
) -> dict[str, object]:
    return {
        "model_name": model_name,
        **decision.as_dict(),
        "thresholds": thresholds,
        "holdout": data,
        "challenger": challenger.as_dict(),
        "champion": champion.as_dict() if champion else None,
    }


def _roc_plot(y: np.ndarray, scores: dict[str, np.ndarray], path: Path) -> Path:
    figure, axis = plt.subplots(figsize=(5, 5))
    for label, probability in scores.items():
        RocCurveDisplay.from_predictions(y, probability, ax=axis, name=label)
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey")
    axis.set_title("same hold-out, both models")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _image(path: Path) -> str:
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{encoded}">'


def _fmt(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else html.escape(str(value))


def _html(payload: dict[str, object], plots: list[Path]) -> str:
    challenger, champion = payload["challenger"], payload["champion"]
    verdict = "PASSED" if payload["passed"] else "FAILED"
    rows = "".join(
        f"<tr><td>{html.escape(c['name'])}</td><td>{'pass' if c['passed'] else 'FAIL'}</td>"
        f"<td>{_fmt(c['observed'])}</td><td>{_fmt(c['limit'])}</td><td>{html.escape(c['rule'])}</td></tr>"
        for c in payload["checks"]
    )
    header = "<tr><th>metric</th><th>challenger</th>" + ("<th>champion</th>" if champion else "") + "</tr>"
    metric_rows = "".join(
        f"<tr><td>{name}</td><td>{_fmt(challenger['metrics'][name])}</td>"
        + (f"<td>{_fmt(champion['metrics'][name])}</td>" if champion else "")
        + "</tr>"
        for name in SHOWN_METRICS
    )
    fairness_rows = ""
    for attribute, result in challenger["fairness"].items():
        other = champion["fairness"][attribute] if champion else None
        fairness_rows += (
            f"<tr><td>{html.escape(attribute)}</td>"
            f"<td>{_fmt(result['demographic_parity_difference'])}</td>"
            f"<td>{_fmt(result['equalized_odds_difference'])}</td>"
            + (
                f"<td>{_fmt(other['demographic_parity_difference'])}</td>"
                f"<td>{_fmt(other['equalized_odds_difference'])}</td>"
                if other
                else ""
            )
            + "</tr>"
        )
    champion_heads = "<th>champion DPD</th><th>champion EOD</th>" if champion else ""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Validation of {html.escape(payload["model_name"])}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}td,th{{padding:.2em .8em;text-align:right}}
td:first-child,th:first-child{{text-align:left}}table{{border-collapse:collapse;margin:1em 0}}
tr:nth-child(even){{background:#f3f3f3}}img{{max-width:100%}}</style></head><body>
<h1>{html.escape(payload["model_name"])} version {html.escape(challenger["version"])}: {verdict}</h1>
<p><b>{html.escape(payload["message"])}</b> (mode: {html.escape(payload["mode"])})</p>
<p>Hold-out: {html.escape(json.dumps(payload["holdout"]))}</p>
<h2>Checks</h2><table><tr><th>check</th><th>result</th><th>observed</th><th>limit</th><th>rule</th></tr>{rows}</table>
<h2>Hold-out metrics</h2><table>{header}{metric_rows}</table>
<h2>Fairness</h2>
<p>DPD: demographic parity difference (gap in selection rate); EOD: equalized odds difference (worst gap in
TPR or FPR) between the groups of each attribute.</p>
<table><tr><th>attribute</th><th>challenger DPD</th><th>challenger EOD</th>{champion_heads}</tr>{fairness_rows}</table>
{"".join(_image(p) for p in plots)}
</body></html>
"""


def write_validation_report(
    payload: dict[str, object],
    y_holdout: np.ndarray,
    probabilities: dict[str, np.ndarray],
    challenger: ModelScores,
    champion: ModelScores | None,
    out_dir: Path,
) -> dict[str, Path]:
    """Write the JSON, the plots and the HTML page into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = [_roc_plot(y_holdout, probabilities, out_dir / "roc_comparison.png")]
    plots.append(
        plot_fairness(challenger.fairness, out_dir / "fairness_challenger.png",
                      title=f"challenger v{challenger.version}: rates by group")
    )  # fmt: skip
    if champion is not None:
        plots.append(
            plot_fairness(champion.fairness, out_dir / "fairness_champion.png",
                          title=f"champion v{champion.version}: rates by group")
        )  # fmt: skip
    (out_dir / REPORT_JSON).write_text(json.dumps(payload, indent=2, sort_keys=True, default=_jsonable))
    (out_dir / REPORT_HTML).write_text(_html(json.loads((out_dir / REPORT_JSON).read_text()), plots))
    return {"json": out_dir / REPORT_JSON, "html": out_dir / REPORT_HTML}


def _jsonable(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
