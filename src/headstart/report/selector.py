"""Confusion matrix and reliability diagram of any (head, shots) of a store, chosen in the
page: the seed-0 matrices and calibration bins are embedded as JSON and drawn as SVG by a
small script, so a report holds every cell without rendering dozens of images."""

from __future__ import annotations

import html
import json
from typing import Any

from headstart.protocol import Results
from headstart.report.summary import level_name

SCRIPT = """
function headstartDraw(section) {
  const data = JSON.parse(section.querySelector('script.cells').textContent);
  const head = section.querySelector('select.head').value;
  const shots = section.querySelector('select.shots').value;
  const cell = data.cells[head + '|' + shots];
  const caption = section.querySelector('figcaption.selected');
  const confusion = section.querySelector('svg.confusion');
  const reliability = section.querySelector('svg.reliability');
  const ns = 'http://www.w3.org/2000/svg';
  const add = (svg, name, attrs, text) => {
    const node = document.createElementNS(ns, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    svg.appendChild(node); return node;
  };
  for (const svg of [confusion, reliability]) svg.replaceChildren();
  const what = head + ', ' + section.querySelector('select.shots').selectedOptions[0].text;
  caption.textContent = (cell ? '' : 'not run: ') + 'confusion (rows: true class, ' +
    'normalised) and reliability of ' + what + ', seed 0 — ' + data.store;
  section.dataset.shown = head + '|' + shots;
  if (!cell) return;
  const names = data.classes, k = cell.confusion ? cell.confusion.length : 0;
  const size = Math.max(14, Math.min(36, Math.floor(360 / Math.max(k, 1))));
  const left = 90, top = 70;
  confusion.setAttribute('width', left + size * k + 10);
  confusion.setAttribute('height', top + size * k + 10);
  add(confusion, 'title', {}, 'confusion: ' + what + ' — ' + data.store);
  for (let i = 0; i < k; i++) {
    const total = cell.confusion[i].reduce((a, b) => a + b, 0) || 1;
    add(confusion, 'text', {x: left - 4, y: top + size * i + size * 0.65,
      'text-anchor': 'end', 'font-size': 10}, names[i] || String(i));
    add(confusion, 'text', {x: 0, y: 0, 'font-size': 10, transform:
      `translate(${left + size * i + size * 0.6},${top - 4}) rotate(-60)`}, names[i] || String(i));
    for (let j = 0; j < k; j++) {
      const rate = cell.confusion[i][j] / total;
      const rect = add(confusion, 'rect', {x: left + size * j, y: top + size * i,
        width: size - 1, height: size - 1,
        fill: `rgba(31,119,180,${(0.05 + 0.95 * rate).toFixed(3)})`});
      add(rect, 'title', {}, `${names[i]} → ${names[j]}: ${cell.confusion[i][j]}`);
    }
  }
  const w = 260, pad = 34;
  reliability.setAttribute('width', w + pad + 10);
  reliability.setAttribute('height', w + pad + 10);
  add(reliability, 'title', {}, 'reliability: ' + what + ' — ' + data.store);
  add(reliability, 'rect', {x: pad, y: 5, width: w, height: w, fill: 'none', stroke: '#999'});
  add(reliability, 'line', {x1: pad, y1: 5 + w, x2: pad + w, y2: 5, stroke: '#999',
    'stroke-dasharray': '4 3'});
  add(reliability, 'text', {x: pad + w / 2, y: w + pad + 5, 'text-anchor': 'middle',
    'font-size': 10}, 'confidence');
  add(reliability, 'text', {x: 10, y: 5 + w / 2, 'font-size': 10, transform:
    `rotate(-90 10 ${5 + w / 2})`, 'text-anchor': 'middle'}, 'accuracy');
  const bins = cell.reliability;
  bins.confidence.forEach((c, b) => {
    if (c === null) return;
    const r = 2 + 6 * Math.sqrt(bins.count[b] / Math.max(...bins.count));
    add(reliability, 'circle', {cx: pad + c * w, cy: 5 + w - bins.accuracy[b] * w, r: r,
      fill: 'rgb(214,39,40)'});
  });
}
window.addEventListener('load', () => {
  document.querySelectorAll('section.store').forEach(section => {
    if (!section.querySelector('script.cells')) return;
    section.querySelectorAll('select').forEach(s =>
      s.addEventListener('change', () => headstartDraw(section)));
    headstartDraw(section);
  });
});
"""


def _options(values: list[str], labels: list[str], chosen: str) -> str:
    return "".join(
        f"<option value='{html.escape(v)}'{' selected' if v == chosen else ''}>"
        f"{html.escape(label)}</option>"
        for v, label in zip(values, labels, strict=True)
    )


def selector(results: Results, class_names: list[str], start: tuple[str, str] | None) -> str:
    """The selects and the two SVG figures for one store's results (empty without cells)."""
    cells: dict[str, Any] = {}
    for key, bins in results.reliability.items():
        _, head, shots = key.rsplit("|", 2)
        cells[f"{head}|{shots}"] = {
            "reliability": bins,
            "confusion": results.confusion.get(key),
        }
    if not cells:
        return ""
    heads = [h for h in results.heads() if any(k.split("|")[0] == h for k in cells)]
    levels = [s for s in results.shots() if any(k.rsplit("|", 1)[1] == s for k in cells)]
    head, shots = (
        start
        if start and f"{start[0]}|{start[1]}" in cells
        else next((k.split("|")[0], k.split("|")[1]) for k in cells)
    )
    data = {"store": results.store, "classes": class_names, "cells": cells}
    payload = json.dumps(data).replace("</", "<\\/")
    return (
        "<h3>Confusion matrix and reliability diagram</h3><p>"
        f"head <select class='head'>{_options(heads, heads, head)}</select> "
        f"at <select class='shots'>"
        f"{_options(levels, [level_name(s) for s in levels], shots)}</select></p>"
        f"<figure class='drawn' data-store='{html.escape(results.store)}'>"
        "<svg class='confusion' width='1' height='1'></svg>"
        "<svg class='reliability' width='1' height='1'></svg>"
        "<figcaption class='selected'></figcaption></figure>"
        f"<script type='application/json' class='cells'>{payload}</script>"
    )
