"""`--report html`: the verification on one self-contained page (inline SVG and CSS, no script,
nothing fetched): the text report's numbers, expected-vs-generated scatter plots per output,
the histogram of ulp distances, leaf coverage and the first rows that differ.
"""
from __future__ import annotations

import math
from html import escape

import numpy as np

from .report import Report, _num, _pct, render_text, side_text

W, H, PAD = 320, 240, 34   # one scatter plot, px


def render(r: Report) -> str:
    verdict = "OK" if r.ok else "MISMATCH"
    kinds = ", ".join(f"{n:,} {k}" for k, n in r.row_kinds.items() if n)
    facts = [
        ("reference", r.reference),
        ("rows", f"{r.rows:,} compared ({kinds})"),
        ("values", f"{r.values:,}, bit-identical {r.bit_identical:,} ({_pct(r.bit_identical, r.values)})"),
        ("max error", f"{_num(r.max_abs)} absolute, {_num(r.max_rel)} relative, "
                      f"{'NaN vs number' if r.max_ulps is None else f'{r.max_ulps:,}'} ulp ({r.precision})"),
        ("tolerance", f"{r.tolerance.describe()} ({r.tolerance_origin})"),
    ]
    if r.skipped:
        facts.insert(2, ("skipped", f"{r.skipped:,} rows: {r.skipped_reason}"))
    if r.labels:
        facts.append(("labels", f"{r.labels[0]:,} of {r.labels[1]:,} rows agree"))
    if r.sides:
        facts.append(("differs", side_text(r)))
    facts += [("note", n) for n in r.notes]
    facts.append(("result", verdict if r.ok else f"{verdict}: {r.summary()}"))
    rows = "\n".join(f'<tr><th>{escape(k)}</th><td class="{escape(k.replace(" ", "-"))}">'
                     f"{escape(v)}</td></tr>" for k, v in facts)
    plots = "\n".join(_scatter(k, e, g) for k, (e, g) in enumerate(r.points))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>verify {escape(r.lang)}: {escape(r.model)} - {verdict}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }}
h1 {{ font-size: 1.3em; }} h2 {{ font-size: 1.1em; margin-top: 1.6em; }}
table {{ border-collapse: collapse; }} th, td {{ text-align: left; padding: 2px 10px 2px 0; vertical-align: top; }}
.verdict {{ display: inline-block; padding: 2px 10px; border-radius: 4px; color: #fff;
  background: {"#2a7d2a" if r.ok else "#b22222"}; }}
.plots {{ display: flex; flex-wrap: wrap; gap: 14px; }}
figure {{ margin: 0; }} figcaption {{ font-size: 12px; color: #555; }}
.rows td, .rows th {{ border-bottom: 1px solid #ddd; font-family: ui-monospace, monospace; font-size: 12px; }}
pre {{ background: #f6f6f6; padding: 8px; overflow-x: auto; }}
</style></head>
<body>
<h1>verify {escape(r.lang)}: {escape(r.model)} ({escape(r.source)}) <span class="verdict">{verdict}</span></h1>
<table class="facts">
{rows}
</table>
<h2>Expected against generated, per output</h2>
<p>{sum(len(e) for e, _ in r.points[:1]):,} rows per plot: every differing row, then an even
spread of the rest; red where the values are not bit-identical.</p>
<div class="plots">
{plots}
</div>
<h2>Distance in ulps ({escape(r.precision)})</h2>
{_histogram(r.ulp_bins)}
<h2>Leaf coverage</h2>
{_coverage(r.leaves)}
<h2>First rows that differ</h2>
{_first_rows(r)}
<h2>Text report</h2>
<pre>{escape(render_text(r))}</pre>
</body></html>
"""


def _scale(values, lo_px, hi_px):
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if hi == lo:
        lo, hi = lo - 1.0, hi + 1.0
    return lo, hi, lambda x: lo_px + (x - lo) / (hi - lo) * (hi_px - lo_px)


def _scatter(k: int, expected, generated) -> str:
    e = np.asarray(expected, dtype=np.float64)
    g = np.asarray(generated, dtype=np.float64)
    lo, hi, sx = _scale(np.concatenate([e, g]), PAD, W - 8)
    sy = lambda y: H - PAD - (y - lo) / (hi - lo) * (H - PAD - 8)   # noqa: E731
    same = (e.view(np.int64) == g.view(np.int64)) | (np.isnan(e) & np.isnan(g))
    dots = []
    for x, y, ok in zip(e, g, same):
        if math.isfinite(x) and math.isfinite(y):
            dots.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="{1.6 if ok else 2.6}" '
                        f'fill="{"#2f6db5" if ok else "#d62728"}" fill-opacity="0.6"/>')
    return f"""<figure><svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" role="img"
 aria-label="output {k}: expected against generated">
<rect x="{PAD}" y="8" width="{W - PAD - 8}" height="{H - PAD - 8}" fill="none" stroke="#999"/>
<line x1="{sx(lo):.1f}" y1="{sy(lo):.1f}" x2="{sx(hi):.1f}" y2="{sy(hi):.1f}" stroke="#bbb" stroke-dasharray="4 3"/>
{"".join(dots)}
<text x="{PAD}" y="{H - 14}" font-size="10">{escape(_num(lo))}</text>
<text x="{W - 8}" y="{H - 14}" font-size="10" text-anchor="end">{escape(_num(hi))}</text>
<text x="{(W + PAD) / 2:.0f}" y="{H - 2}" font-size="11" text-anchor="middle">expected</text>
<text x="10" y="{H / 2:.0f}" font-size="11" text-anchor="middle" transform="rotate(-90 10 {H / 2:.0f})">generated</text>
</svg><figcaption>output {k}: {int((~same).sum()):,} of {len(same):,} plotted values not bit-identical</figcaption></figure>"""


def _histogram(bins) -> str:
    if not bins:
        return "<p>no values</p>"
    top = max(n for _, n in bins) or 1
    bw, gap, h = 84, 8, 150
    bars = []
    for i, (label, n) in enumerate(bins):
        x = 10 + i * (bw + gap)
        bh = 0 if n == 0 else max(2.0, (math.log10(n + 1) / math.log10(top + 1)) * h)
        bars.append(f'<rect x="{x}" y="{10 + h - bh:.1f}" width="{bw}" height="{bh:.1f}" '
                    f'fill="{"#2f6db5" if label == "0" else "#d62728"}"/>'
                    f'<text x="{x + bw / 2}" y="{h + 26}" font-size="11" text-anchor="middle">{escape(label)}</text>'
                    f'<text x="{x + bw / 2}" y="{8 + h - bh:.1f}" font-size="11" text-anchor="middle">{n:,}</text>')
    width = 20 + len(bins) * (bw + gap)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h + 40}" role="img" '
            f'aria-label="values by ulp distance">{"".join(bars)}</svg>'
            '<p>Values by distance in units in the last place (log scale); 0 is bit-identical.</p>')


def _coverage(leaves) -> str:
    reached, total = leaves
    if not total:
        return "<p>the model has no trees</p>"
    share = reached / total
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="420" height="24" role="img" aria-label="leaf coverage">'
            f'<rect x="0" y="2" width="400" height="18" fill="#eee"/>'
            f'<rect x="0" y="2" width="{400 * share:.1f}" height="18" fill="#2f6db5"/></svg>'
            f'<p class="leaves">{reached:,} of {total:,} leaves reached ({_pct(reached, total)})</p>')


def _first_rows(r: Report) -> str:
    if not r.first:
        return "<p>none: every value agrees bit for bit or within the tolerance</p>"

    def vec(v):
        return "[" + ", ".join(_num(float(x)) for x in v) + "]" if v is not None else "-"

    body = "\n".join(
        f"<tr><td>{m.row}</td><td>{escape(m.origin)}</td><td>{escape(vec(m.expected))}</td>"
        f"<td>{escape(vec(m.got))}</td><td>{escape(vec(m.ir))}</td>"
        f"<td>{escape(vec(m.inputs[:24]))}</td></tr>" for m in r.first)
    return ('<table class="rows"><tr><th>row</th><th>from</th><th>expected</th><th>generated</th>'
            f"<th>IR evaluator</th><th>input</th></tr>\n{body}\n</table>")
