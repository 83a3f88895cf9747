"""JSON and HTML reports with plots embedded as PNG data URIs (one self-contained file).

The HTML shows: the table of figures per dataset and system; metrics per model version and
per improvement cycle; every collapse guard against its tolerance, cycle by cycle; and the
gate decisions with their confidence intervals and reasons.

Gate decisions come from the registry's model versions (``results["versions"]``) and from
``results["decisions"]``, a list of ``GateDecision.to_dict()`` with an optional ``cycle`` and
``label`` (the learning-loop benchmarks append theirs there).
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

from evals.runner import COLUMNS, summary_rows

__all__ = ["decisions_of", "render_html", "write_reports"]


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.1f}" if abs(v) >= 100 else f"{v:.4f}"
    return html.escape(str(v))


def decisions_of(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Gate decisions in cycle order, each with ``label`` and ``cycle``."""
    out: list[dict[str, Any]] = []
    for i, v in enumerate(results.get("versions", [])):
        if v.get("gate_decision"):
            d = dict(v["gate_decision"])
            d.setdefault("label", v["id"])
            d.setdefault("cycle", (v.get("data_manifest") or {}).get("cycle", i))
            out.append(d)
    for i, d in enumerate(results.get("decisions", [])):
        d = dict(d)
        d.setdefault("label", d.get("challenger_version") or f"decision {i}")
        d.setdefault("cycle", i + 1)
        out.append(d)
    return sorted(out, key=lambda d: (str(d.get("kind", "")), float(d.get("cycle") or 0)))


def _baseline_figure(results: dict[str, Any]) -> str | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = summary_rows(results)
    if not rows:
        return None
    datasets = list(results["datasets"])
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 3.8), squeeze=False)
    for ax, ds in zip(axes[0], datasets, strict=True):
        mine = [r for r in rows if r["dataset"] == ds]
        metrics = [
            m
            for m in ("ndcg@10", "recall@10", "mrr@10", "answer_f1", "exact_match", "groundedness")
            if any(r[m] is not None for r in mine)
        ]
        width = 0.8 / max(1, len(mine))
        for j, r in enumerate(mine):
            xs = [i + j * width for i in range(len(metrics))]
            ax.bar(xs, [r[m] or 0 for m in metrics], width, label=r["system"])
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(metrics))], metrics, rotation=20)
        ax.set_ylim(0, 1)
        ax.set_title(f"{ds}: metrics per system")
        ax.legend(fontsize=7)
    return _png(fig)


def _versions_figure(decisions: list[dict[str, Any]]) -> str | None:
    import matplotlib.pyplot as plt

    if not decisions:
        return None
    kinds = sorted({d.get("kind", "") for d in decisions})
    fig, axes = plt.subplots(1, len(kinds), figsize=(6 * len(kinds), 3.6), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        mine = [d for d in decisions if d.get("kind", "") == kind]
        xs = [d["cycle"] for d in mine]
        ax.plot(xs, [d["champion_score"] for d in mine], "o--", label="champion")
        ax.plot(xs, [d["challenger_score"] for d in mine], "s-", label="challenger")
        for d, x in zip(mine, xs, strict=True):
            ax.annotate(
                str(d["label"])[:18],
                (x, d["challenger_score"]),
                fontsize=6,
                rotation=30,
                color="green" if d["promote"] else "red",
            )
        ax.set_xlabel("improvement cycle")
        ax.set_ylabel(mine[0]["primary_metric"])
        ax.set_title(f"{kind}: primary metric per model version")
        ax.legend(fontsize=7)
    return _png(fig)


def _guards_figure(decisions: list[dict[str, Any]]) -> str | None:
    import matplotlib.pyplot as plt

    names = sorted({g for d in decisions for g in d.get("guards", {})})
    if not names:
        return None
    cols = min(3, len(names))
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.2 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        pts = [(d["cycle"], d["guards"][name]) for d in decisions if name in d.get("guards", {})]
        xs = [p[0] for p in pts]
        ax.plot(xs, [g["value"] for _, g in pts], "o-", label="challenger")
        refs = [g.get("reference") for _, g in pts]
        limits = [_limit(g) for _, g in pts]
        if any(r is not None for r in refs):
            ax.plot(
                xs,
                [r if r is not None else float("nan") for r in refs],
                "k_--",
                ms=14,
                lw=1,
                label="reference",
            )
        ax.plot(
            xs,
            [v if v is not None else float("nan") for v in limits],
            "r_:",
            ms=14,
            lw=1.5,
            label="tolerance limit",
        )
        for x, (_, g) in zip(xs, pts, strict=True):
            if g.get("breached"):
                ax.plot([x], [g["value"]], "rx", ms=10)
        ax.set_title(name)
        ax.set_xlabel("cycle")
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.suptitle("Collapse guards against their tolerances (x: breached)", y=1.03)
    return _png(fig)


def _limit(g: dict[str, Any]) -> float | None:
    tol, ref, kind = g.get("tolerance"), g.get("reference"), g.get("tolerance_kind")
    if tol is None:
        return None
    if kind == "ceiling":
        return float(tol)
    if ref is None:
        return None
    allowed = tol * abs(ref) if kind == "relative" else tol
    return float(ref - allowed if g.get("greater_is_better") else ref + allowed)


def _gate_figure(decisions: list[dict[str, Any]]) -> str | None:
    import matplotlib.pyplot as plt

    if not decisions:
        return None
    fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(decisions)), 3.6))
    for i, d in enumerate(decisions):
        color = "green" if d["promote"] else "red"
        mid = d["mean_difference"]
        ax.errorbar(
            [i],
            [mid],
            yerr=[[mid - d["ci_low"]], [d["ci_high"] - mid]],
            fmt="o",
            color=color,
            capsize=4,
        )
        ax.hlines(d["min_improvement"], i - 0.3, i + 0.3, colors="gray", linestyles="dashed")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(
        range(len(decisions)), [str(d["label"])[:16] for d in decisions], rotation=25, fontsize=7
    )
    ax.set_ylabel("challenger - champion (primary metric)")
    ax.set_title("Gate decisions: paired-bootstrap interval (green promote, red reject)")
    return _png(fig)


def render_html(results: dict[str, Any]) -> str:
    """A self-contained HTML page for ``results`` (plots embedded as base64 PNG)."""
    decisions = decisions_of(results)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>rsi_rag evaluation</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}img{max-width:100%}"
        ".promote{color:green}.reject{color:red}</style></head><body>",
        f"<h1>Evaluation: {html.escape(str(results.get('suite', '')))}</h1>",
        f"<p>{html.escape(str(results.get('description', '')))} "
        f"({html.escape(str(results.get('created_at', '')))})</p>",
    ]
    rows = summary_rows(results) if results.get("datasets") else []
    if rows:
        cols = ["dataset", "system", "n", *COLUMNS]
        parts.append(
            "<h2>Figures</h2><table><tr>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>"
        )
        for r in rows:
            parts.append("<tr>" + "".join(f"<td>{_fmt(r[c])}</td>" for c in cols) + "</tr>")
        parts.append("</table>")
    sections = [
        ("Metrics per system", _baseline_figure(results) if rows else None),
        ("Metrics per model version and cycle", _versions_figure(decisions)),
        ("Collapse guards vs tolerances", _guards_figure(decisions)),
        ("Gate decisions", _gate_figure(decisions)),
    ]
    for title, img in sections:
        if img:
            parts.append(f"<h2>{title}</h2><img alt='{title}' src='{img}'>")
    if decisions:
        parts.append(
            "<h2>Decisions</h2><table><tr><th>cycle</th><th>version</th><th>kind</th>"
            "<th>decision</th><th>metric</th><th>champion</th><th>challenger</th>"
            "<th>CI</th><th>reasons</th></tr>"
        )
        for d in decisions:
            cls = "promote" if d["promote"] else "reject"
            parts.append(
                f"<tr><td>{_fmt(d['cycle'])}</td><td>{_fmt(d['label'])}</td>"
                f"<td>{_fmt(d['kind'])}</td><td class='{cls}'>{cls}</td>"
                f"<td>{_fmt(d['primary_metric'])}</td><td>{_fmt(d['champion_score'])}</td>"
                f"<td>{_fmt(d['challenger_score'])}</td>"
                f"<td>[{d['ci_low']:+.4f}, {d['ci_high']:+.4f}]</td>"
                f"<td>{'<br>'.join(html.escape(r) for r in d.get('reasons', []))}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_reports(results: dict[str, Any], json_path: Path | None, html_path: Path | None) -> None:
    """Write the JSON results and the HTML report (parents are created)."""
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(render_html(results), encoding="utf-8")
