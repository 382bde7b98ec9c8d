// The reports page: the period's figures per queue and per agent from /api/reports/intervals, a chart of
// offered/answered/abandoned calls with the service level, CSV links, and the staffing advice per queue.
import { _, api, calendarDay, dateOnly, dateTime, el, nameOf, number, percent, showError, tenths } from "./common.js";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const form = $("report-form");

const seconds = (value) => (value === null || value === undefined ? "—" : _("%(num)s s", { num: tenths(value) }));
const FORMATS = {
  interval_start: (value, interval) => (interval === "day" ? dateOnly(value) : dateTime(value)),
  queue: (value) => nameOf("queue", value),
  service_level: percent,
  occupancy: percent,
  survey_score: (value) => (value === null ? "—" : tenths(value)),
};
for (const column of ["abandon_wait_s", "asa_s", "aht_s", "talk_s", "wrap_s"]) FORMATS[column] = seconds;

function query(extra = {}) {
  const params = new URLSearchParams(new FormData(form));
  for (const [key, value] of Object.entries(extra)) params.set(key, value);
  return params;
}

/** Rows into a table whose header names its columns (data-column), formatted for the page's language. */
function fill(table, rows, interval) {
  const columns = [...table.tHead.querySelectorAll("th")].map((th) => th.dataset.column);
  table.tBodies[0].replaceChildren(...rows.map((row) => el("tr", {}, ...columns.map((column) => {
    const value = row[column];
    const format = FORMATS[column] || ((v) => (typeof v === "number" ? number(v) : v ?? "—"));
    return el(column === "interval_start" || column === "queue" || column === "agent_name" ? "th" : "td",
      { "data-column": column, scope: column === "interval_start" ? "row" : null }, format(value, interval));
  }))));
  if (!rows.length) table.tBodies[0].append(el("tr", {}, el("td", { colspan: columns.length }, _("No calls in this period"))));
}

function svgEl(tag, attributes, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

/** Per interval (all shown queues together): bars of offered, answered and abandoned; a line of the service level. */
function chart(rows, interval) {
  const byInterval = new Map();
  for (const row of rows) {
    const sums = byInterval.get(row.interval_start) || { offered: 0, answered: 0, abandoned: 0, within: 0 };
    sums.offered += row.offered;
    sums.answered += row.answered;
    sums.abandoned += row.abandoned;
    sums.within += row.within_target;
    byInterval.set(row.interval_start, sums);
  }
  const points = [...byInterval.entries()];
  const svg = $("report-chart");
  const [width, height, left, bottom, top] = [960, 220, 36, 30, 10];
  const max = Math.max(1, ...points.map(([, s]) => s.offered));
  const slot = (width - left) / Math.max(1, points.length);
  const y = (count) => height - bottom - (count / max) * (height - bottom - top);
  const shapes = [svgEl("line", { x1: left, x2: width, y1: height - bottom, y2: height - bottom, class: "axis" }),
    svgEl("text", { x: left - 4, y: top + 8, class: "tick", "text-anchor": "end" }, number(max))];
  const level = [];
  points.forEach(([start, s], i) => {
    const x = left + i * slot;
    const bar = Math.max(1, slot / 3 - 2);
    for (const [k, kind] of ["offered", "answered", "abandoned"].entries()) {
      shapes.push(svgEl("rect", { x: x + 1 + k * (bar + 1), y: y(s[kind]), width: bar, height: height - bottom - y(s[kind]),
        class: `bar ${kind}`, "data-interval": start, "data-kind": kind, "data-count": s[kind] },
      svgEl("title", {}, `${FORMATS.interval_start(start, interval)}: ${number(s[kind])}`)));
    }
    const handled = s.answered + s.abandoned;
    if (handled) level.push(`${x + slot / 2},${top + (1 - s.within / handled) * (height - bottom - top)}`);
    if (points.length <= 16 || i % Math.ceil(points.length / 12) === 0) {
      shapes.push(svgEl("text", { x: x + slot / 2, y: height - 10, class: "tick", "text-anchor": "middle" },
        FORMATS.interval_start(start, interval)));
    }
  });
  if (level.length > 1) shapes.push(svgEl("polyline", { points: level.join(" "), class: "level" }));
  svg.replaceChildren(...shapes);
  const offered = points.reduce((sum, [, s]) => sum + s.offered, 0);
  svg.setAttribute("aria-label", offered ? _("%(offered)s offered", { offered: number(offered) }) : _("No calls in this period"));
}

async function staffing() {
  const day = form.elements.to.value;
  $("staffing-day").textContent = calendarDay(day);
  const queues = form.elements.queue.value ? [form.elements.queue.value]
    : [...form.elements.queue.options].map((option) => option.value).filter(Boolean);
  const panels = await Promise.all(queues.map((queue) => api(`/api/reports/staffing?${new URLSearchParams({ queue, day })}`)));
  $("staffing").replaceChildren(...panels.map((advice) => el("div", { class: "staffing-queue", "data-queue": advice.queue },
    el("h3", {}, nameOf("queue", advice.queue)),
    el("p", { class: "muted" }, advice.aht_s === null ? _("No calls on this weekday in the last four weeks.")
      : _("AHT %(aht)s, patience %(patience)s, target %(pct)s in %(time)s; signed in now: %(now)s", {
        aht: seconds(advice.aht_s), patience: seconds(advice.patience_s), pct: percent(advice.sl_target_pct / 100),
        time: seconds(advice.sl_target_s), now: number(advice.signed_in_now) })),
    advice.intervals.length ? el("table", { class: "grid figures" },
      el("thead", {}, el("tr", {}, el("th", {}, _("Interval")), el("th", {}, _("Calls expected")),
        el("th", {}, _("Erlang C")), el("th", {}, _("Erlang A")))),
      el("tbody", {}, ...advice.intervals.map((i) => el("tr", { "data-start": i.start }, el("th", {}, i.start),
        el("td", {}, tenths(i.arrivals)), el("td", { "data-field": "erlang_c" }, number(i.agents_erlang_c)),
        el("td", { "data-field": "erlang_a" }, number(i.agents_erlang_a)))))) : null)));
}

async function show() {
  showError($("report-error"), null);
  const interval = form.elements.interval.value;
  $("csv-queues").href = `/api/reports/intervals?${query({ format: "csv", by: "queue" })}`;
  $("csv-agents").href = `/api/reports/intervals?${query({ format: "csv", by: "agent" })}`;
  try {
    const [queues, agents] = await Promise.all([
      api(`/api/reports/intervals?${query({ by: "queue" })}`), api(`/api/reports/intervals?${query({ by: "agent" })}`)]);
    fill($("report-queues"), queues.rows, interval);
    fill($("report-agents"), agents.rows, interval);
    chart(queues.rows, interval);
    await staffing();
    document.body.dataset.ready = "true";
  } catch (error) {
    showError($("report-error"), error);
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  window.history.replaceState(null, "", `?${query()}`);
  show();
});
show();
