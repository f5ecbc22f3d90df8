"""Measure what a reader of the page would see cut or too small, in a real browser (tests/pages/
test_browser_layout.py): text that overflows its box, plotly text outside its chart or under its legend,
inline-SVG text outside its drawing or on top of another label, and text drawn smaller than a size."""

from __future__ import annotations

# the two screens the layout tests read every view at (a projector's), and their test ids
SIZES = [(1400, 900), (1920, 1080)]
SIZE_IDS = [f"{w}x{h}" for w, h in SIZES]
# the smallest drawn text of an inline SVG at each width: they scale with their column, 16 px at 1920
SVG_MIN_PX = {1400: 14, 1920: 16}

# Returns {"cut": [...], "small": [...], "overlap": [...], "smallestChartPx", "smallestSvgPx"} for the page as it is
# on screen. `minPx`: the smallest
# font size allowed for chart text (plotly and the inline SVGs, drawn size); `svgMinPx`: for inline SVGs.
LAYOUT_PROBLEMS_JS = r"""([minPx, svgMinPx]) => {
  const main = document.querySelector('[data-testid="stMain"]');
  const out = {cut: [], small: [], overlap: [], smallestChartPx: null, smallestSvgPx: null};
  const least = (key, px) => { if (out[key] === null || px < out[key]) out[key] = Math.round(px * 10) / 10; };
  const name = (el) => (el.innerText || el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 60);
  const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  // 1. HTML text cut by its box: headings, labels, table cells and tables, metric cards, tabs, markdown, captions
  const boxes = main.querySelectorAll(
    'h1, h2, h3, h4, [data-testid="stWidgetLabel"], [data-testid="stMetricLabel"], [data-testid="stMetricValue"], ' +
    '[data-testid="stTable"], [data-testid="stTable"] th, [data-testid="stTable"] td, [data-metric] div, ' +
    '[data-testid="stTab"], [data-testid="stMarkdownContainer"], [data-testid="stCaptionContainer"], [data-bar] div, ' +
    '[data-testid="stExpander"] summary');
  for (const el of boxes) {
    if (!visible(el)) continue;
    if (el.scrollWidth > el.clientWidth + 1) out.cut.push(`${el.tagName.toLowerCase()} "${name(el)}" ${el.scrollWidth}>${el.clientWidth}`);
  }
  // a table wider than its frame is a table whose last columns are cut
  for (const el of main.querySelectorAll('[data-testid="stTable"] > div, [data-testid="stTable"]')) {
    if (visible(el) && el.scrollWidth > el.clientWidth + 1) out.cut.push(`table ${el.scrollWidth}>${el.clientWidth}: "${name(el.querySelector("th") || el)}"`);
  }
  // a text inside a group with a clip-path (plotly's plot area) that reaches outside that clip's rectangle
  const clippedBy = (t, r) => {
    for (let g = t.parentElement; g && g.tagName.toLowerCase() !== "svg"; g = g.parentElement) {
      const ref = (g.getAttribute("clip-path") || "").match(/url\(['"]?#([^'")]+)/);
      const rect = ref && document.getElementById(ref[1]) && document.getElementById(ref[1]).querySelector("rect");
      if (!rect) continue;
      const m = g.getScreenCTM();
      const x = +rect.getAttribute("x") || 0, y = +rect.getAttribute("y") || 0;
      const a = new DOMPoint(x, y).matrixTransform(m);
      const b = new DOMPoint(x + (+rect.getAttribute("width")), y + (+rect.getAttribute("height"))).matrixTransform(m);
      if (r.left < a.x - 1 || r.right > b.x + 1 || r.top < a.y - 1 || r.bottom > b.y + 1) return true;
    }
    return false;
  };
  // 2. plotly: every text inside its chart, at least minPx, the legend clear of the axis titles and tick labels
  for (const chart of main.querySelectorAll('.js-plotly-plot')) {
    if (!visible(chart)) continue;
    const svg = chart.querySelector('svg.main-svg');
    if (!svg) continue;
    const frame = svg.getBoundingClientRect();
    const title = (chart.querySelector('.gtitle') || {}).textContent || "(untitled chart)";
    const texts = [...chart.querySelectorAll('svg.main-svg text')].filter(t => t.textContent.trim() && visible(t));
    for (const t of texts) {
      const r = t.getBoundingClientRect();
      if (r.left < frame.left - 1 || r.right > frame.right + 1 || r.top < frame.top - 1 || r.bottom > frame.bottom + 1)
        out.cut.push(`chart "${title}": "${name(t)}" outside the chart`);
      else if (clippedBy(t, r)) out.cut.push(`chart "${title}": "${name(t)}" cut by the plot area`);
      const size = parseFloat(getComputedStyle(t).fontSize);
      least("smallestChartPx", size);
      if (size < minPx - 0.01) out.small.push(`chart "${title}": "${name(t)}" ${size}px`);
    }
    const legend = chart.querySelector('g.legend');
    if (legend && visible(legend)) {
      const L = legend.getBoundingClientRect();
      for (const t of chart.querySelectorAll('.g-xtitle text, .g-ytitle text, .xtick text, .ytick text, .gtitle')) {
        const r = t.getBoundingClientRect();
        if (r.width && r.left < L.right && r.right > L.left && r.top < L.bottom && r.bottom > L.top)
          out.overlap.push(`chart "${title}": legend over "${name(t)}"`);
      }
    }
  }
  // 3. inline SVG (Explore, Train): every text inside the drawing, drawn at least svgMinPx, lattice labels apart
  for (const svg of main.querySelectorAll('[data-html-block] svg[viewBox]')) {
    if (!visible(svg)) continue;
    const vb = svg.viewBox.baseVal;
    const scale = svg.getBoundingClientRect().width / vb.width;
    const label = svg.getAttribute('aria-label');
    const texts = [...svg.querySelectorAll('text')].filter(t => t.textContent.trim());
    for (const t of texts) {
      const b = t.getBBox();
      if (b.x < vb.x - 1 || b.y < vb.y - 1 || b.x + b.width > vb.x + vb.width + 1 || b.y + b.height > vb.y + vb.height + 1)
        out.cut.push(`svg "${label}": "${name(t)}" outside its drawing`);
      const drawn = parseFloat(getComputedStyle(t).fontSize) * scale;
      least("smallestSvgPx", drawn);
      if (drawn < svgMinPx - 0.01) out.small.push(`svg "${label}": "${name(t)}" ${drawn.toFixed(1)}px`);
    }
    if (svg.getAttribute('data-testid') === 'lattice-svg') {
      // a text's box is its line box (~1.3 em): trim it to the glyphs' height before comparing neighbours
      const rects = texts.map(t => { const r = t.getBoundingClientRect(), trim = r.height * 0.15;
                                     return [t, {left: r.left, right: r.right, top: r.top + trim, bottom: r.bottom - trim}]; });
      for (let i = 0; i < rects.length; i++) for (let j = i + 1; j < rects.length; j++) {
        const [a, ra] = rects[i], [b, rb] = rects[j];
        if (ra.left < rb.right - 1 && ra.right > rb.left + 1 && ra.top < rb.bottom - 1 && ra.bottom > rb.top + 1)
          out.overlap.push(`lattice "${name(a)}" over "${name(b)}"`);
      }
    }
  }
  return out;
}"""


def problems_of(found: dict) -> list[str]:
    """What LAYOUT_PROBLEMS_JS found cut, too small or overlapping, one "kind: what" line each."""
    return [f"{kind}: {p}" for kind in ("cut", "small", "overlap") for p in found[kind]]


# The viewport bottom of what Explore must show on its first screen: the three switches, the prediction, the
# metric cards H(p) and λ(x), and the last gate bar. {name: bottom px, ...} plus the viewport height.
EXPLORE_FIRST_SCREEN_JS = r"""() => {
  const bottom = (el) => el ? el.getBoundingClientRect().bottom : null;
  const found = {};
  const switches = [...document.querySelectorAll('.st-key-explore_inputs [data-testid="stCheckbox"]')];
  switches.forEach((el, i) => { found[`switch ${el.innerText.trim() || i}`] = bottom(el); });
  found["prediction"] = bottom(document.querySelector('[data-testid="explore-headline"]'));
  for (const m of document.querySelectorAll('[data-metric]')) {
    const label = m.getAttribute('data-metric');
    if (label.startsWith('Gate entropy') || label.startsWith('λ(x)')) found[label] = bottom(m);
  }
  const bars = [...document.querySelectorAll('[data-bar]')];
  found["gate (last bar)"] = bars.length ? bottom(bars[bars.length - 1]) : null;
  return {found, height: window.innerHeight, switches: switches.length};
}"""
