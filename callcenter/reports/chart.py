"""The morning report's chart (matplotlib, Agg backend: no display needed).

Bars: calls offered per hour (grey), the hours under the target in red. Line: the connection rate
per hour against the target (dashed) and the national standard (dotted). Chinese labels use Noto
Sans CJK (Debian's fonts-noto-cjk) when it is installed.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from metrics.kpi import RATE_DIGITS, rate_text

if TYPE_CHECKING:
    from callcenter.reports.daily import DailyReport

CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")

TEXT = {
    "zh": {"title": "{day} 接通率 {rate}（目标 {target}）", "offered": "呼入量（人工）", "rate": "接通率",
           "target": "目标 {v}", "standard": "国标 {v}", "short": "未达标时段", "hour": "时"},
    "en": {"title": "{day} connection rate {rate} (target {target})", "offered": "Calls offered",
           "rate": "Connection rate", "target": "Target {v}", "standard": "Standard {v}", "short": "Under target",
           "hour": "Hour"},
}


def pct(v: float | None, digits: int = RATE_DIGITS) -> str:
    """A rate as every page shows it (metrics/kpi.py rate_text: cut to 0.1 %); `digits` above the rule's
    are not shown, so no report prints 95.48 % where the wallboard shows 95.4 %."""
    return rate_text(v, min(digits, RATE_DIGITS))


def _font_family(language: str) -> list[str]:
    from matplotlib import font_manager

    if language == "zh" and CJK_FONT.exists():
        font_manager.fontManager.addfont(str(CJK_FONT))
        return ["Noto Sans CJK JP", "DejaVu Sans"]  # the collection's first face; it holds the Simplified glyphs too
    return ["DejaVu Sans"]


def daily_chart_png(report: DailyReport, width: float = 11.0, height: float = 4.8, dpi: int = 110) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    t = TEXT["zh" if report.language == "zh" else "en"]
    with plt.rc_context({"font.family": "sans-serif", "font.sans-serif": _font_family(report.language),
                         "axes.unicode_minus": False}):
        fig, ax = plt.subplots(figsize=(width, height), dpi=dpi)
        try:
            hours = [h.start.hour for h in report.hours]
            offered = [h.kpi.offered for h in report.hours]
            colours = ["#d9534f" if h.short else "#b8c2cc" for h in report.hours]
            ax.bar(hours, offered, color=colours, width=0.8, zorder=2)
            ax.set_ylabel(t["offered"])
            ax.set_xticks(range(0, 24))
            ax.set_xlim(-0.6, 23.6)
            ax.grid(axis="y", color="#eeeeee", zorder=0)
            ax2 = ax.twinx()
            rates = [h.connection_rate * 100 if h.connection_rate is not None else None for h in report.hours]
            xs = [x for x, r in zip(hours, rates, strict=True) if r is not None]
            ys = [r for r in rates if r is not None]
            ax2.plot(xs, ys, color="#1f4e79", marker="o", markersize=4, linewidth=2, zorder=3)
            ax2.axhline(report.target * 100, color="#d9534f", linestyle="--", linewidth=1.4)
            ax2.axhline(report.standard_24h * 100, color="#f0ad4e", linestyle=":", linewidth=1.4)
            low = min([*ys, report.standard_24h * 100]) if ys else 90.0
            ax2.set_ylim(max(0.0, min(low - 3, 90.0)), 100.5)
            ax2.set_ylabel(t["rate"] + " %")
            day_rate = report.day_kpi.connection_rate
            title = t["title"].format(day=report.day.isoformat(), rate=pct(day_rate), target=pct(report.target, 0))
            ax.set_title(title,
                         color="#2e7d32" if report.met_target else "#c62828", fontsize=14, fontweight="bold")
            handles = [Patch(color="#b8c2cc", label=t["offered"]), Patch(color="#d9534f", label=t["short"]),
                       Line2D([], [], color="#1f4e79", marker="o", label=t["rate"]),
                       Line2D([], [], color="#d9534f", linestyle="--",
                              label=t["target"].format(v=pct(report.target, 0))),
                       Line2D([], [], color="#f0ad4e", linestyle=":",
                              label=t["standard"].format(v=pct(report.standard_24h, 0)))]
            ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.08), fontsize=9, ncol=5,
                      frameon=False)
            fig.tight_layout()
            buf = io.BytesIO()
            fig.savefig(buf, format="png")
            return buf.getvalue()
        finally:
            plt.close(fig)
