"""An evaluation as one self-contained HTML page, for sharing (GET
/datasets/{id}/evaluations/{eid}/report): the summary numbers, the per-class table, the PR
curves, the confusion matrix and the confidence histogram, drawn as inline SVG from the
stored metrics. No script, no external asset; every label goes through Jinja's autoescape.
The chart geometry is computed here (numbers only), the template places it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

# The UI's label palette (static/js/palette.js): Okabe-Ito, then Tol's muted colours.
PALETTE = (
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00",
    "#f0e442", "#882255", "#44aa99", "#999933", "#aa4499", "#332288",
)  # fmt: skip
# Per task: the summary's numbers (key, name, words) and the per-class columns (key, heading).
SUMMARY_NAMES = {
    "detection": (
        ("AP", "AP", "AP at IoU .50:.05:.95"),
        ("AP50", "AP50", "AP at IoU .50"),
        ("AP75", "AP75", "AP at IoU .75"),
        ("APs", "APs", "AP, small objects"),
        ("APm", "APm", "AP, medium objects"),
        ("APl", "APl", "AP, large objects"),
        ("AR1", "AR1", "AR, 1 detection per image"),
        ("AR10", "AR10", "AR, 10 detections"),
        ("AR100", "AR100", "AR, 100 detections"),
        ("ARs", "ARs", "AR, small objects"),
        ("ARm", "ARm", "AR, medium objects"),
        ("ARl", "ARl", "AR, large objects"),
    ),
    "segmentation": (
        ("miou", "mIoU", "mean IoU of the classes"),
        ("pixel_accuracy", "Pixel accuracy", "labelled pixels predicted right"),
        ("mean_class_accuracy", "Mean class accuracy", "mean recall of the classes"),
        ("fw_iou", "FW IoU", "IoU weighted by the classes' pixels"),
        ("mean_dice", "Mean Dice", "mean Dice of the classes"),
    ),
    "spans": (
        ("precision", "Precision", "predicted spans that are right"),
        ("recall", "Recall", "ground-truth spans found"),
        ("f1", "F1", "micro F1 over all spans"),
        ("macro_f1", "Macro F1", "mean F1 of the labels"),
        ("weighted_f1", "Weighted F1", "F1 of the labels weighted by support"),
    ),
    "classification": (
        ("accuracy", "Accuracy", "items predicted right"),
        ("micro_f1", "Micro F1", "F1 over all items"),
        ("macro_f1", "Macro F1", "mean F1 of the classes"),
        ("weighted_f1", "Weighted F1", "F1 of the classes weighted by support"),
        ("cohen_kappa", "Cohen's kappa", "agreement beyond chance"),
    ),
}
CLASS_COLUMNS = {
    "detection": (
        ("ground_truth", "Ground truth"), ("predictions", "Predictions"), ("ap", "AP"),
        ("ap_at_threshold", "AP@IoU"), ("tp", "TP"), ("fp", "FP"), ("fn", "FN"),
        ("precision", "Precision"), ("recall", "Recall"),
    ),
    "segmentation": (
        ("pixels", "Ground-truth pixels"), ("predicted", "Predicted pixels"), ("iou", "IoU"),
        ("accuracy", "Accuracy"), ("dice", "Dice"),
    ),
    "spans": (
        ("support", "Ground truth"), ("predicted", "Predicted"), ("tp", "Found"),
        ("fp", "Spurious"), ("fn", "Missed"), ("precision", "Precision"), ("recall", "Recall"),
        ("f1", "F1"),
    ),
    "classification": (
        ("support", "Ground truth"), ("predicted", "Predicted"), ("precision", "Precision"),
        ("recall", "Recall"), ("f1", "F1"), ("tp", "Right"), ("fp", "Wrong predictions"),
        ("fn", "Missed or mistaken"),
    ),
}  # fmt: skip
# A report security policy of its own: styles inline, nothing else loads or runs.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'"

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass
class Chart:
    width: int
    height: int
    left: int = 44
    top: int = 12
    right: int = 12
    bottom: int = 36
    parts: dict[str, Any] = field(default_factory=dict)

    @property
    def inner_width(self) -> int:
        return self.width - self.left - self.right

    @property
    def inner_height(self) -> int:
        return self.height - self.top - self.bottom

    def x(self, fraction: float) -> float:
        return round(self.left + fraction * self.inner_width, 2)

    def y(self, fraction: float) -> float:
        return round(self.top + (1 - fraction) * self.inner_height, 2)


def number(value: float | int | None, digits: int = 3) -> str:
    """A rate to `digits` places, a count as it is, a missing value as a dash."""
    if value is None:
        return "—"
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def _colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def pr_chart(metrics: dict[str, Any]) -> Chart:
    """Each class's PR curve and the mean over classes, recall on x, precision on y."""
    chart = Chart(560, 340)
    curves = metrics.get("pr_curves") or {}
    recall = curves.get("recall") or []
    labels = metrics.get("labels") or []

    def points(precision: list[float]) -> str:
        return " ".join(
            f"{chart.x(r)},{chart.y(max(p, 0.0))}" for r, p in zip(recall, precision, strict=False)
        )

    lines = [
        {"label": label, "colour": _colour(k), "points": points(curve["precision"])}
        for k, label in enumerate(labels)
        if (curve := (curves.get("classes") or {}).get(label))
    ]
    if curves.get("all"):
        lines.append({"label": "all classes", "colour": "#1d2230", "points": points(curves["all"])})
    ticks = [i / 5 for i in range(6)]
    chart.parts = {
        "lines": lines,
        "xticks": [{"at": chart.x(t), "text": f"{t:.1f}"} for t in ticks],
        "yticks": [{"at": chart.y(t), "text": f"{t:.1f}"} for t in ticks],
    }
    return chart


def _shade(fraction: float) -> str:
    """White to the UI's accent blue (#3d5afe) by a fraction of the row."""
    fraction = min(max(fraction, 0.0), 1.0)
    red, green, blue = (round(255 + (c - 255) * fraction) for c in (0x3D, 0x5A, 0xFE))
    return f"#{red:02x}{green:02x}{blue:02x}"


def confusion_chart(metrics: dict[str, Any]) -> Chart:
    """The confusion matrix as a heat map, each cell shaded by its share of its row."""
    confusion = metrics.get("confusion") or {}
    names = list(confusion.get("labels") or [])
    matrix = confusion.get("matrix") or []
    n = len(names)
    cell = max(16, min(44, 520 // max(n, 1)))
    shown = [*names[:-1], "missed"] if n else []
    rows_shown = [*names[:-1], "spurious"] if n else []
    # Room for the longest name: written out on the left, at 45 degrees on top.
    longest = max((len(name) for name in rows_shown), default=8)
    left = min(max(round(longest * 6.5) + 14, 60), 170)
    top = min(max(round(longest * 4.7) + 22, 50), 130)
    width, height = left + n * cell + 12, top + n * cell + 12
    chart = Chart(width, height, left=left, top=top)
    cells = []
    for r, row in enumerate(matrix):
        total = sum(row) or 1
        for c, count in enumerate(row):
            cells.append(
                {
                    "x": left + c * cell,
                    "y": top + r * cell,
                    "fill": _shade(count / total),
                    "count": count,
                    "dark": count / total > 0.55,
                    "truth": rows_shown[r],
                    "predicted": shown[c],
                }
            )
    chart.parts = {
        "cell": cell,
        "cells": cells,
        "text": cell >= 22,
        "columns": [
            {"x": left + c * cell + cell / 2, "text": name} for c, name in enumerate(shown)
        ],
        "rows": [
            {"y": top + r * cell + cell / 2, "text": name} for r, name in enumerate(rows_shown)
        ],
        "edge_x": left + (n - 1) * cell,
        "edge_y": top + (n - 1) * cell,
        "end_x": left + n * cell,
        "end_y": top + n * cell,
    }
    return chart


def histogram_chart(metrics: dict[str, Any]) -> Chart:
    """True and false positives per confidence bin, side by side."""
    chart = Chart(560, 240)
    confidence = metrics.get("confidence") or {}
    edges = confidence.get("bins") or []
    tp, fp = confidence.get("tp") or [], confidence.get("fp") or []
    peak = max([1, *tp, *fp])
    bins = max(len(tp), 1)
    slot = chart.inner_width / bins
    bars = []
    for i, (hits, misses) in enumerate(zip(tp, fp, strict=False)):
        for offset, (kind, count) in enumerate((("tp", hits), ("fp", misses))):
            height = chart.inner_height * count / peak
            bars.append(
                {
                    "kind": kind,
                    "x": round(chart.left + i * slot + 1 + offset * (slot - 2) / 2, 2),
                    "y": round(chart.top + chart.inner_height - height, 2),
                    "width": round((slot - 2) / 2, 2),
                    "height": round(height, 2),
                    "count": count,
                    "lo": edges[i] if i < len(edges) else None,
                    "hi": edges[i + 1] if i + 1 < len(edges) else None,
                }
            )
    chart.parts = {
        "bars": bars,
        "peak": peak,
        "xticks": [{"at": chart.x(i / 5), "text": f"{i / 5:.1f}"} for i in range(6)],
    }
    return chart


def render_report(
    *,
    evaluation: Any,
    dataset_name: str,
    model_name: str,
    scope: str,
    now: dt.datetime | None = None,
) -> str:
    """The report page of a finished evaluation (`evaluation.metrics` set)."""
    metrics = evaluation.metrics or {}
    summary = metrics.get("summary") or {}
    task = evaluation.task if evaluation.task in SUMMARY_NAMES else "detection"
    names = list(SUMMARY_NAMES[task])
    if task == "detection" and evaluation.params.get("iou_type") == "keypoints":
        names = [
            ("AP", "AP", "AP at OKS .50:.05:.95"), ("AP50", "AP50", "AP at OKS .50"),
            ("AP75", "AP75", "AP at OKS .75"), ("APm", "APm", "AP, medium objects"),
            ("APl", "APl", "AP, large objects"), ("AR", "AR", "AR at OKS .50:.05:.95"),
            ("AR50", "AR50", "AR at OKS .50"), ("AR75", "AR75", "AR at OKS .75"),
            ("ARm", "ARm", "AR, medium objects"), ("ARl", "ARl", "AR, large objects"),
        ]  # fmt: skip
    if task == "classification":
        names += [
            (key, f"Top-{key.split('_')[1]}", "the truth among the k likeliest classes")
            for key in summary
            if key.startswith("top_") and key.endswith("_accuracy")
        ]
    columns = [
        (key, f"AP@{metrics.get('iou_threshold')}" if key == "ap_at_threshold" else heading)
        for key, heading in CLASS_COLUMNS[task]
    ]
    return _templates.get_template("evaluation_report.html").render(
        task=task,
        columns=columns,
        evaluation=evaluation,
        dataset_name=dataset_name,
        model_name=model_name,
        scope=scope,
        metrics=metrics,
        summary=[(key, name, words, number(summary.get(key))) for key, name, words in names],
        per_class=metrics.get("per_class") or [],
        totals=metrics.get("totals") or {},
        pr=pr_chart(metrics) if metrics.get("pr_curves") else None,
        confusion=confusion_chart(metrics) if metrics.get("confusion") else None,
        histogram=histogram_chart(metrics) if metrics.get("confidence") else None,
        number=number,
        colour=_colour,
        generated=(now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC"),
    )
