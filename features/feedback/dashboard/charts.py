"""Server-rendered SVG bar charts: no JavaScript library, nothing for the CSP to allow, prints well.

Colours and fonts come from classes in dashboard.css (no inline `style`, which the CSP forbids).
"""
from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

ROW = 26
LABEL_W = 260
BAR_W = 360
VALUE_W = 70


def _short(label: str, limit: int = 38) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bar_chart(rows: Sequence[tuple[str, float]], *, title: str, unit: str = "", max_value: float | None = None,
              decimals: int = 0, css: str = "") -> Markup:
    """Horizontal bars, one per (label, value); an accessible <title> and a text value on each bar."""
    width = LABEL_W + BAR_W + VALUE_W
    height = max(1, len(rows)) * ROW + 8
    top = max_value if max_value is not None else max((v for _, v in rows), default=0) or 1
    parts = [Markup('<svg class="chart {css}" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
                    'xmlns="http://www.w3.org/2000/svg">').format(css=css, w=width, h=height),
             Markup("<title>{}</title>").format(title)]
    if not rows:
        parts.append(Markup('<text class="chart-empty" x="4" y="20">Chưa có số liệu</text>'))
    for i, (label, value) in enumerate(rows):
        y = 4 + i * ROW
        length = 0 if top <= 0 else max(0.0, min(1.0, value / top)) * BAR_W
        shown = f"{value:.{decimals}f}{unit}".replace(".", ",")
        parts.append(Markup(
            '<g><title>{full}: {shown}</title>'
            '<text class="chart-label" x="{lx}" y="{ty}" text-anchor="end">{label}</text>'
            '<rect class="chart-bar" x="{bx}" y="{y}" width="{bw:.1f}" height="{bh}" rx="2"></rect>'
            '<text class="chart-value" x="{vx:.1f}" y="{ty}">{shown}</text></g>'
        ).format(full=label, shown=shown, lx=LABEL_W - 8, ty=y + 17, label=_short(label), bx=LABEL_W, y=y,
                 bw=length, bh=ROW - 8, vx=LABEL_W + length + 6))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


__all__ = ["bar_chart", "escape"]
