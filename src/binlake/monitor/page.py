"""The dashboard page: one HTML document, vanilla JavaScript and inline SVG charts, no network beyond its server.

It polls ``/api/tasks`` and ``/api/tasks/<task>/metrics`` every ``?refresh=`` seconds (default 2) and redraws.
Text from the state store is inserted with ``textContent`` only, never as HTML.
"""

PAGE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>binlake dashboard</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
h1 { font-size: 1.4em; margin: 0 0 .2em; } h2 { font-size: 1.15em; margin: 1.2em 0 .4em; }
table { border-collapse: collapse; background: #fff; } th, td { padding: .25em .7em; border: 1px solid #ddd; }
th { background: #f0f0f0; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.selected { background: #eef5ff; } a { color: #0b5cad; cursor: pointer; }
.status-running { color: #137333; } .status-failed { color: #b3261e; font-weight: bold; }
.missed { color: #b3261e; font-weight: bold; } .met { color: #137333; } .muted { color: #777; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
.chart { background: #fff; border: 1px solid #ddd; padding: .5em; width: 460px; }
.legend span { margin-right: 1em; } #error { color: #b3261e; }
</style>
</head>
<body>
<h1>binlake dashboard</h1>
<div class="muted">Updated <span id="updated-at" data-refreshes="0">never</span>
  &middot; refreshes every <span id="refresh-seconds"></span> s
  &middot; <a href="/metrics">Prometheus /metrics</a></div>
<div id="error"></div>
<h2>Replication tasks</h2>
<table id="tasks"><thead><tr><th>ReplicationTaskIdentifier</th><th>Status</th><th>MigrationType</th>
<th>FullLoadProgressPercent</th><th>CDCLatencySource (s)</th><th>CDCThroughputRowsTarget</th><th>CPUUtilization (%)</th>
</tr></thead><tbody></tbody></table>
<div id="task" hidden>
<h2>Task <span id="task-name"></span>: <span id="task-status"></span></h2>
<div id="task-failure" class="missed"></div>
<h2>Targets</h2>
<table id="checks"><thead><tr><th>Metric</th><th>Target</th><th>Observed</th><th>Basis</th><th>Result</th></tr></thead>
<tbody></tbody></table>
<h2>Table statistics</h2>
<table id="table-statistics"><thead><tr><th>SchemaName</th><th>TableName</th><th>TableState</th><th>FullLoadRows</th>
<th>Inserts</th><th>Updates</th><th>Deletes</th><th>Ddls</th></tr></thead><tbody></tbody></table>
<h2>Metrics (last <span id="window-minutes"></span> minutes)</h2>
<div class="charts" id="charts"></div>
<h2>Recent events</h2>
<table id="events"><thead><tr><th>Date</th><th>Category</th><th>Message</th></tr></thead><tbody></tbody></table>
</div>
<script>
"use strict";
const params = new URLSearchParams(location.search);
const refreshSeconds = Math.max(0.2, parseFloat(params.get("refresh") || "2"));
const windowSeconds = parseFloat(params.get("window") || "900");
let selected = params.get("task");
let refreshes = 0;
const CHARTS = [
  {key: "latency", title: "CDC latency (seconds)", metrics: ["CDCLatencySource", "CDCLatencyTarget"]},
  {key: "throughput", title: "Throughput (rows/second)",
   metrics: ["FullLoadThroughputRowsSource", "CDCThroughputRowsSource", "CDCThroughputRowsTarget"]},
  {key: "cpu", title: "CPUUtilization (%)", metrics: ["CPUUtilization"]},
  {key: "memory", title: "MemoryUsageBytes (MiB)", metrics: ["MemoryUsageBytes"], scale: 1 / 1048576},
];
const COLORS = ["#0b5cad", "#d9730d", "#137333", "#8e24aa"];
const SVG = "http://www.w3.org/2000/svg";

function el(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}
function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}
function fmt(value, digits) {
  if (value === null || value === undefined) return "";
  return Number(value).toLocaleString("en-US", {maximumFractionDigits: digits === undefined ? 1 : digits});
}
function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}
async function getJson(url) {
  const response = await fetch(url, {cache: "no-store"});
  const body = await response.json();
  if (!response.ok) throw new Error(body.Error || response.statusText);
  return body;
}

function drawTasks(tasks) {
  const rows = tasks.map((t) => {
    const tr = el("tr", null, {"data-task": t.ReplicationTaskIdentifier});
    if (t.ReplicationTaskIdentifier === selected) tr.className = "selected";
    const link = el("a", t.ReplicationTaskIdentifier);
    link.onclick = () => { selected = t.ReplicationTaskIdentifier; refresh(); };
    const name = el("td"); name.append(link); tr.append(name);
    tr.append(el("td", t.Status, {class: "status-" + t.Status}));
    tr.append(el("td", t.MigrationType));
    const latest = t.LatestMetrics || {};
    tr.append(el("td", fmt(t.ReplicationTaskStats.FullLoadProgressPercent, 0), {class: "num"}));
    tr.append(el("td", fmt(latest.CDCLatencySource), {class: "num"}));
    tr.append(el("td", fmt(latest.CDCThroughputRowsTarget), {class: "num"}));
    tr.append(el("td", fmt(latest.CPUUtilization), {class: "num"}));
    return tr;
  });
  fill(document.querySelector("#tasks tbody"), rows);
}

function drawStatistics(task) {
  const rows = task.TableStatistics.map((s) => {
    const tr = el("tr", null, {"data-table": s.SchemaName + "." + s.TableName});
    tr.append(el("td", s.SchemaName), el("td", s.TableName), el("td", s.TableState));
    for (const key of ["FullLoadRows", "Inserts", "Updates", "Deletes", "Ddls"]) {
      tr.append(el("td", fmt(s[key], 0), {class: "num", "data-field": key}));
    }
    return tr;
  });
  fill(document.querySelector("#table-statistics tbody"), rows);
}

function drawChecks(doc) {
  const rows = doc.Checks.map((c) => {
    const tr = el("tr", null, {"data-metric": c.MetricName});
    const result = c.TargetMet === null ? "not judged" : c.TargetMet ? "met" : "MISSED";
    tr.append(el("td", c.MetricName), el("td", c.Target), el("td", fmt(c.Observed), {class: "num"}),
              el("td", c.Basis));
    const cell = el("td", result, {class: c.TargetMet === false ? "missed" : c.TargetMet ? "met" : "muted"});
    if (c.Hint) cell.title = c.Hint;
    tr.append(cell);
    return tr;
  });
  fill(document.querySelector("#checks tbody"), rows);
}

function drawChart(spec, doc) {
  const width = 460, height = 180, left = 50, right = 10, top = 10, bottom = 22;
  const scale = spec.scale || 1;
  const series = spec.metrics.map((name) => {
    const found = doc.MetricDataResults.find((r) => r.Label === name) || {Timestamps: [], Values: []};
    return {name, times: found.Timestamps.map((t) => Date.parse(t)), values: found.Values.map((v) => v * scale)};
  });
  const thresholds = spec.metrics.filter((m) => doc.Targets[m])
    .map((m) => ({name: m, value: doc.Targets[m].Value * scale}));
  // From the first sample in the window (at least a minute back) to now, so a young task is not a sliver.
  const now = Date.parse(doc.EndTime);
  let first = now - 60000;
  for (const s of series) if (s.times.length) first = Math.min(first, s.times[0]);
  const start = Math.max(Date.parse(doc.StartTime), first);
  let max = 1;
  for (const s of series) for (const v of s.values) max = Math.max(max, v);
  for (const t of thresholds) max = Math.max(max, t.value * 1.1);  // the target is always in view
  const x = (t) => left + (width - left - right) * (t - start) / Math.max(1, now - start);
  const y = (v) => top + (height - top - bottom) * (1 - v / max);
  const box = el("div", null, {class: "chart"});
  box.append(el("div", spec.title));
  const chart = svg("svg", {id: "chart-" + spec.key, width, height, viewBox: `0 0 ${width} ${height}`,
                            "data-points": String(series.reduce((n, s) => n + s.values.length, 0))});
  chart.append(svg("line", {x1: left, y1: y(0), x2: width - right, y2: y(0), stroke: "#999"}));
  const label = (text, tx, ty, anchor, attrs) => {
    const t = svg("text", {x: tx, y: ty, "font-size": 10, "text-anchor": anchor, fill: "#555", ...(attrs || {})});
    t.textContent = text; chart.append(t);
  };
  label(fmt(max), left - 4, top + 8, "end"); label("0", left - 4, y(0), "end");
  label(new Date(start).toLocaleTimeString(), left, height - 6, "start");
  label(new Date(now).toLocaleTimeString(), width - right, height - 6, "end");
  // Targets at the same or nearby values (CDCLatencySource and CDCLatencyTarget < 60) would print their
  // labels on top of each other: each label keeps at least one line's height from the one above it.
  let below = -Infinity;
  for (const t of thresholds.slice().sort((a, b) => b.value - a.value)) {
    chart.append(svg("line", {x1: left, y1: y(t.value), x2: width - right, y2: y(t.value), stroke: "#b3261e",
                              "stroke-dasharray": "4 3", class: "threshold", "data-metric": t.name}));
    const at = Math.max(y(t.value) - 3, below + 11);
    below = at;
    label(`${t.name} ${doc.Targets[t.name].Operator} ${fmt(t.value)}`, width - right, at, "end",
          {class: "threshold-label", "data-metric": t.name});
  }
  const legend = el("div", null, {class: "legend"});
  series.forEach((s, i) => {
    const points = s.values.map((v, j) => `${x(s.times[j]).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    chart.append(svg("polyline", {points, fill: "none", stroke: COLORS[i], "stroke-width": 1.5,
                                  "data-metric": s.name, "data-count": String(s.values.length)}));
    const latest = s.values.length ? fmt(s.values[s.values.length - 1]) : "no data";
    legend.append(el("span", `${s.name}: ${latest}`, {style: `color: ${COLORS[i]}`}));
  });
  box.append(chart, legend);
  return box;
}

function drawEvents(doc) {
  const rows = doc.Events.slice().reverse().map((e) => {
    const tr = el("tr");
    tr.append(el("td", e.Date), el("td", e.EventCategories.join(", ")), el("td", e.Message));
    return tr;
  });
  fill(document.querySelector("#events tbody"), rows);
}

async function refresh() {
  try {
    const doc = await getJson("/api/tasks");
    const tasks = doc.ReplicationTasks;
    if (!selected && tasks.length) selected = tasks[0].ReplicationTaskIdentifier;
    drawTasks(tasks);
    const task = tasks.find((t) => t.ReplicationTaskIdentifier === selected);
    document.getElementById("task").hidden = !task;
    if (task) {
      const data = await getJson(`/api/tasks/${encodeURIComponent(selected)}/metrics?window=${windowSeconds}`);
      document.getElementById("task-name").textContent = task.ReplicationTaskIdentifier;
      const status = document.getElementById("task-status");
      status.textContent = task.Status; status.className = "status-" + task.Status;
      document.getElementById("task-failure").textContent = task.LastFailureMessage || "";
      drawStatistics(task);
      drawChecks(data);
      document.getElementById("charts").replaceChildren(...CHARTS.map((spec) => drawChart(spec, data)));
      drawEvents(data);
    }
    document.getElementById("error").textContent = "";
  } catch (error) {
    document.getElementById("error").textContent = "Refresh failed: " + error.message;
  }
  refreshes += 1;
  const stamp = document.getElementById("updated-at");
  stamp.textContent = new Date().toLocaleTimeString();
  stamp.setAttribute("data-refreshes", String(refreshes));
}

async function loop() {
  await refresh();
  setTimeout(loop, refreshSeconds * 1000);
}
document.getElementById("refresh-seconds").textContent = String(refreshSeconds);
document.getElementById("window-minutes").textContent = fmt(windowSeconds / 60);
loop();
</script>
</body>
</html>
"""
