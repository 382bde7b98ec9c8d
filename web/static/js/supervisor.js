// The supervisor's live monitor: queues with today's figures, answers per hour, the line, the agents' board.
import {
  _, api, dateTime, duration, el, live, nameOf, ngettext, number, padded, percent, secondsSince, showError, tenths,
  timeOfDay, waitWords,
} from "./common.js";

const page = document.getElementById("supervisor-page");
const SKILLS = page.dataset.skills ? page.dataset.skills.split(",") : [];
const PRESENCES = page.dataset.presences.split(",");
const ON_A_CALL = ["reserved", "busy"]; // forcing these is confirmed first
const ME = page.dataset.me;
const MONITOR_MODES = ["listen", "whisper", "barge", "leave"];
const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

let snapshot = null;
const agentRows = new Map(); // agent id → {row, cells, editor}

const seconds = (value) => (value === null ? "—" : _("%(num)s s", { num: Math.round(value) }));
const clock = (h) => `${padded(h)}:${padded(0)}`;

/** The figures of one queue, by column (see routing/desk.py for how each is counted). */
function queueCells(q) {
  return {
    queue: nameOf("queue", q.queue),
    waiting: number(q.waiting),
    offered: number(q.offered),
    longest_wait: duration(q.oldest_entered_at ? secondsSince(q.oldest_entered_at) : null),
    estimated_wait: duration(q.estimated_wait_s),
    service_level: percent(q.service_level),
    target: _("%(pct)s in %(time)s", { pct: percent(q.sl_target_pct / 100), time: seconds(q.sl_target_s) }),
    asa: seconds(q.asa_s),
    abandon_rate: percent(q.abandon_rate),
    answered: number(q.answered),
    abandoned: number(q.abandoned),
    callbacks_pending: number(q.callbacks_pending),
    callbacks_failed: number(q.callbacks_failed),
    agents: `${number(q.available)} / ${number(q.staffed)}`,
  };
}

function renderQueues() {
  const body = $("queues").tBodies[0];
  body.replaceChildren(...snapshot.queues.map((q) => {
    const cells = Object.entries(queueCells(q)).map(([field, value]) =>
      el(field === "queue" ? "th" : "td", { "data-field": field, scope: field === "queue" ? "row" : null }, value));
    const below = q.service_level !== null && q.service_level * 100 < q.sl_target_pct;
    return el("tr", { "data-queue": q.queue, class: below ? "below-target" : null }, ...cells);
  }));
  $("day-start").textContent = dateTime(snapshot.day_started_at);
}

/** Bars of answers per hour (0–23), drawn as SVG from the snapshot: no chart library, no external service. */
function renderChart(counts) {
  const svg = $("chart");
  const [width, height, left, bottom, top] = [480, 170, 28, 22, 10];
  const max = Math.max(1, ...counts);
  const slot = (width - left) / 24;
  const y = (count) => height - bottom - (count / max) * (height - bottom - top);
  const shapes = [
    svgEl("line", { x1: left, x2: width, y1: height - bottom, y2: height - bottom, class: "axis" }),
    svgEl("text", { x: left - 4, y: top + 4, class: "tick", "text-anchor": "end" }, number(max)),
    svgEl("text", { x: left - 4, y: height - bottom, class: "tick", "text-anchor": "end" }, number(0)),
  ];
  counts.forEach((count, hour) => {
    const label = ngettext("%(from)s–%(to)s: %(num)d answered", "%(from)s–%(to)s: %(num)d answered", count,
      { from: clock(hour), to: clock(hour + 1) });
    shapes.push(svgEl("rect", {
      x: left + hour * slot + 2, y: y(count), width: slot - 4, height: height - bottom - y(count),
      class: "bar", "data-hour": hour, "data-count": count,
    }, svgEl("title", {}, label)));
    if (hour % 3 === 0) {
      shapes.push(svgEl("text", { x: left + hour * slot + slot / 2, y: height - 6, class: "tick", "text-anchor": "middle" },
        padded(hour)));
    }
  });
  svg.replaceChildren(...shapes);
  const total = counts.reduce((a, b) => a + b, 0);
  const busiest = counts.indexOf(Math.max(...counts));
  if (!total) {
    svg.setAttribute("aria-label", _("No calls answered yet today"));
    return;
  }
  const answered = ngettext("%(num)d call answered today", "%(num)d calls answered today", total);
  const peak = ngettext("busiest hour %(hour)s with %(num)d", "busiest hour %(hour)s with %(num)d", counts[busiest],
    { hour: clock(busiest) });
  svg.setAttribute("aria-label", _("%(answered)s; %(peak)s", { answered, peak }));
}

function svgEl(tag, attributes, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

function renderWaiting() {
  const body = $("waiting").tBodies[0];
  body.replaceChildren(...snapshot.waiting.map((item) => el("tr", { "data-item": item.id },
    el("td", { "data-since": item.entered_at }, duration(secondsSince(item.entered_at))),
    el("td", {}, nameOf("queue", item.queue)),
    el("td", {}, callerCell(item.caller)),
    el("td", {}, nameOf("language", item.language) || "—"),
    el("td", {}, item.state === "offered" ? _("ringing %(agent)s", { agent: item.offered_to })
      : item.kind === "callback" ? _("callback") : _("waiting")),
    el("td", {}, item.position === null || item.position === undefined ? "—" : number(item.position)))));
  $("waiting-summary").textContent = waitingSummary(snapshot.waiting);
}

/** "3 callers waiting; longest wait 2 minutes", in the language's plural forms. */
function waitingSummary(waiting) {
  if (!waiting.length) return _("Nobody is waiting.");
  const longest = Math.max(...waiting.map((item) => secondsSince(item.entered_at)));
  const callers = ngettext("%(num)d caller waiting", "%(num)d callers waiting", waiting.length);
  return _("%(callers)s; longest wait %(wait)s", { callers, wait: waitWords(longest) });
}

/** A caller's name and number (the number kept left to right in a right-to-left page). */
function callerCell(caller) {
  if (!caller.name && !caller.number) return _("unknown");
  const parts = [];
  if (caller.name) parts.push(caller.name);
  if (caller.name && caller.number) parts.push(" · ");
  if (caller.number) parts.push(el("bdi", { dir: "ltr" }, caller.number));
  return el("span", {}, ...parts);
}

function renderAgents() {
  const body = $("agents").tBodies[0];
  const seen = new Set();
  for (const agent of snapshot.agents) {
    seen.add(agent.id);
    if (!agentRows.has(agent.id)) agentRows.set(agent.id, agentRow(agent));
    const entry = agentRows.get(agent.id);
    entry.agent = agent;
    entry.cells.state.textContent = nameOf("presence", agent.presence) + (agent.not_ready_reason ? ` (${agent.not_ready_reason})` : "");
    entry.cells.state.dataset.presence = agent.presence;
    entry.cells.callText.textContent = agent.current_call_sid
      ? `${nameOf("queue", agent.current_queue) || ""} ${agent.current_call_sid.slice(0, 10)}…` : "—";
    renderMonitor(entry, agent);
    entry.cells.languages.textContent = agent.languages.map((code) => nameOf("language", code)).join(", ") || "—";
    entry.cells.skills.textContent = Object.entries(agent.skills).map(([s, l]) => `${s} ${number(l)}`).join(", ")
      || _("none");
    body.append(entry.row, entry.editor);
  }
  for (const [id, entry] of agentRows) {
    if (!seen.has(id)) { entry.row.remove(); entry.editor.remove(); agentRows.delete(id); }
  }
}

/** A row of the board with its actions (force a state; edit skills), made once per agent and updated in place. */
function agentRow(agent) {
  const cells = {
    name: el("th", { scope: "row" }, agent.name, el("br"), el("small", { class: "muted" }, agent.id)),
    state: el("td", { "data-field": "presence" }),
    since: el("td", { "data-field": "in_state" }),
    call: el("td", { "data-field": "call" }),
    callText: el("span"),
    languages: el("td"),
    skills: el("td", { "data-field": "skills" }),
  };
  const select = el("select", { "aria-label": _("New state for %(name)s", { name: agent.name }) },
    ...PRESENCES.map((p) => el("option", { value: p }, nameOf("presence", p))));
  const force = el("button", { type: "button" }, _("Set state"));
  const edit = el("button", { type: "button", "aria-expanded": "false" }, _("Edit skills"));
  const editor = skillEditor(agent, edit);
  force.addEventListener("click", act(async () => {
    const now = agentRows.get(agent.id).agent.presence;
    if (ON_A_CALL.includes(now) && !window.confirm(_("%(name)s is %(state)s. Force %(new)s? A ringing offer goes back "
        + "to the queue; a call ends for routing (the line itself is not hung up).",
    { name: agent.name, state: nameOf("presence", now), new: nameOf("presence", select.value) }))) return;
    await api(`/api/agents/${encodeURIComponent(agent.id)}/presence`,
      { method: "POST", body: { presence: select.value, reason: select.value === "break" ? _("set by supervisor") : null } });
  }));
  edit.addEventListener("click", () => {
    const open = editor.hidden;
    editor.hidden = !open;
    edit.setAttribute("aria-expanded", String(open));
    if (open) {
      const current = agentRows.get(agent.id).agent.skills;
      for (const input of editor.querySelectorAll("input")) input.value = current[input.name] || 0;
      editor.querySelector("input").focus();
    }
  });
  const monitor = monitorButtons(agent);
  cells.call.append(cells.callText, monitor.group);
  const row = el("tr", { "data-agent": agent.id }, cells.name, cells.state, cells.since, cells.call, cells.languages,
    cells.skills, el("td", { class: "actions" }, el("div", {}, select, force, edit)));
  return { row, cells, editor, agent, monitor };
}

/** Listen, whisper, barge and leave on the agent's current call (the supervisor's phone rings into it). */
function monitorButtons(agent) {
  const labels = { listen: _("Listen"), whisper: _("Whisper"), barge: _("Barge"), leave: _("Leave") };
  const buttons = Object.fromEntries(MONITOR_MODES.map((mode) => [mode,
    el("button", { type: "button", "data-monitor": mode, "aria-pressed": "false" }, labels[mode])]));
  for (const [mode, button] of Object.entries(buttons)) {
    button.addEventListener("click", act(async () => {
      const sid = agentRows.get(agent.id).agent.current_call_sid;
      await api(`/api/calls/${encodeURIComponent(sid)}/monitor`, { method: "POST", body: { mode } });
      $("monitor-status").textContent = monitorStatus(mode, agent.name);
    }));
  }
  const group = el("div", { class: "monitor", role: "group", "aria-label": _("Monitor the call of %(name)s", { name: agent.name }) },
    ...Object.values(buttons));
  return { group, buttons };
}

function monitorStatus(mode, name) {
  return {
    listen: _("Listening to the call of %(name)s: nobody hears you.", { name }),
    whisper: _("Coaching %(name)s: only they hear you.", { name }),
    barge: _("In the call of %(name)s: the caller hears you too.", { name }),
    leave: _("You left the call of %(name)s.", { name }),
  }[mode];
}

/** The monitor buttons of a row: usable while the agent talks; the mode this supervisor is in is pressed. */
function renderMonitor(entry, agent) {
  const talking = agent.presence === "busy" && Boolean(agent.current_call_sid);
  const mine = (snapshot.monitors || []).find((m) => m.call_sid === agent.current_call_sid && m.supervisor_id === ME);
  entry.monitor.group.hidden = !talking;
  for (const [mode, button] of Object.entries(entry.monitor.buttons)) {
    button.setAttribute("aria-pressed", String(Boolean(mine) && mine.mode === mode));
    button.disabled = mode === "leave" ? !mine : Boolean(mine) && mine.mode === mode;
  }
}

/** With Twilio: this page's Voice SDK device, which answers the monitoring calls the supervisor asked for. */
async function supervisorSoftphone() {
  if (!window.Twilio || !window.Twilio.Device) return; // local mode: the simulated phone answers by itself
  const token = async () => (await api("/api/softphone/token", { method: "POST" })).token;
  try {
    const device = new window.Twilio.Device(await token(), { closeProtection: true });
    device.on("incoming", (call) => call.accept());
    device.on("tokenWillExpire", async () => device.updateToken(await token()));
    await device.register();
  } catch (error) {
    showError($("action-error"), error);
  }
}

function skillEditor(agent, toggle) {
  const inputs = SKILLS.map((skill) => el("label", {}, `${skill} `,
    el("input", { type: "number", name: skill, min: 0, max: 5, step: 1, value: 0 })));
  const form = el("form", { class: "skills-form" }, ...inputs,
    el("button", { type: "submit", class: "primary" }, _("Save skills")),
    el("small", { class: "muted" }, _("0 = none, 1–5 = level")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const skills = {};
    for (const input of form.querySelectorAll("input")) if (Number(input.value) > 0) skills[input.name] = Number(input.value);
    act(async () => {
      await api(`/api/agents/${encodeURIComponent(agent.id)}/skills`, { method: "POST", body: { skills } });
      editorRow.hidden = true;
      toggle.setAttribute("aria-expanded", "false");
      toggle.focus();
    })();
  });
  const editorRow = el("tr", { class: "editor", hidden: true }, el("td", { colspan: 7 }, form));
  return editorRow;
}

/** A button's or form's action: its error, if any, shown in the section's alert. */
function act(action, errorElement = $("action-error")) {
  return async () => {
    showError(errorElement, null);
    try {
      await action();
    } catch (error) {
      showError(errorElement, error);
    }
  };
}

/** Every second: the ages that grow by themselves (longest wait, time waiting, time in state). */
function tick() {
  if (!snapshot) return;
  for (const q of snapshot.queues) {
    const cell = $("queues").querySelector(`tr[data-queue="${CSS.escape(q.queue)}"] [data-field="longest_wait"]`);
    if (cell) cell.textContent = duration(q.oldest_entered_at ? secondsSince(q.oldest_entered_at) : null);
  }
  for (const cell of $("waiting").querySelectorAll("[data-since]")) cell.textContent = duration(secondsSince(cell.dataset.since));
  for (const { agent, cells } of agentRows.values()) cells.since.textContent = duration(secondsSince(agent.presence_since));
}

/** A caller's data: export it as a JSON file, or erase it after a confirmation (web/api.py, store/privacy.py). */
function callerPath(action) {
  return `/api/callers/${encodeURIComponent($("privacy-number").value.trim())}/${action}`;
}

async function exportCaller() {
  $("privacy-result").textContent = "";
  const data = await api(callerPath("export"));
  const file = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
  const link = el("a", { href: URL.createObjectURL(file), download: `caller-${data.caller.id}.json` });
  document.body.append(link);
  link.click();
  link.remove();
  URL.revokeObjectURL(link.href);
  $("privacy-result").textContent = ngettext("Exported, with %(num)d call.", "Exported, with %(num)d calls.",
    data.calls.length);
}

async function forgetCaller() {
  $("privacy-result").textContent = "";
  const number = $("privacy-number").value.trim();
  if (!$("privacy-form").reportValidity()) return;
  if (!window.confirm(_("Erase everything held on %(number)s? This cannot be undone.", { number }))) return;
  const done = await api(callerPath("forget"), { method: "POST", body: { confirm: true } });
  const calls = ngettext("%(num)d call", "%(num)d calls", done.calls);
  const callbacks = ngettext("%(num)d callback cancelled", "%(num)d callbacks cancelled", done.callbacks);
  $("privacy-result").textContent = _("Forgotten: %(calls)s, %(callbacks)s.", { calls, callbacks });
}

$("privacy-form").addEventListener("submit", (event) => {
  event.preventDefault();
  act(exportCaller, $("privacy-error"))();
});
$("forget").addEventListener("click", act(forgetCaller, $("privacy-error")));

/** The alerts open now, in the page's language (routing/alerts.py raises and clears them). */
function renderAlerts(open) {
  $("alerts").replaceChildren(...open.map((alert) => {
    const queue = nameOf("queue", alert.queue);
    const d = alert.detail;
    let text;
    if (alert.kind === "service_level") {
      text = _("%(queue)s: service level %(level)s over the last %(minutes)s minutes (alert below %(threshold)s)",
        { queue, level: percent(d.service_level), minutes: number(d.minutes), threshold: percent(d.threshold_pct / 100) });
    } else if (alert.kind === "longest_wait") {
      text = _("%(queue)s: a caller has waited %(wait)s (alert above %(threshold)s)",
        { queue, wait: waitWords(d.longest_wait_s), threshold: waitWords(d.threshold_s) });
    } else {
      text = ngettext("%(queue)s: %(num)d caller waiting and nobody signed in who can take them",
        "%(queue)s: %(num)d callers waiting and nobody signed in who can take them", d.waiting, { queue });
    }
    return el("li", { class: "alert", "data-kind": alert.kind, "data-queue": alert.queue }, text, " ",
      el("small", {}, _("since %(time)s", { time: timeOfDay(alert.raised_at) })));
  }));
}

/** The staffing advice for the half hour we are in, per queue (refreshed every five minutes). */
async function staffingNow() {
  const slot = new Date().toLocaleTimeString("en-GB", { timeZone: page.dataset.timezone, hour: "2-digit", minute: "2-digit" });
  const start = `${slot.slice(0, 2)}:${Number(slot.slice(3)) < 30 ? "00" : "30"}`;
  const queues = page.dataset.queues ? page.dataset.queues.split(",") : [];
  const advice = await Promise.all(queues.map((queue) => api(`/api/reports/staffing?${new URLSearchParams({ queue })}`)));
  $("staffing-now").tBodies[0].replaceChildren(...advice.map((a) => {
    const now = a.intervals.find((i) => i.start === start);
    return el("tr", { "data-queue": a.queue }, el("th", { scope: "row" }, nameOf("queue", a.queue)),
      el("td", {}, now ? tenths(now.arrivals) : "—"), el("td", { "data-field": "erlang_c" }, now ? number(now.agents_erlang_c) : "—"),
      el("td", {}, now ? number(now.agents_erlang_a) : "—"), el("td", {}, number(a.signed_in_now)));
  }));
}

act(staffingNow)();
setInterval(act(staffingNow), 5 * 60 * 1000);

live((next) => {
  snapshot = next;
  renderQueues();
  renderChart(snapshot.handled_per_hour);
  renderWaiting();
  renderAgents();
  renderAlerts(snapshot.alerts);
  tick();
}, $("live"));
setInterval(tick, 1000);
supervisorSoftphone();
