// The agent's page: presence, the softphone (simulated or Twilio Voice SDK), the screen pop, notes and wrap-up.
import {
  _, api, callOut, dateTime, duration, el, live, nameOf, percent, secondsSince, secondsUntil, showError, timeOfDay,
} from "./common.js";

const page = document.getElementById("agent-page");
const me = page.dataset.agent;
const $ = (id) => document.getElementById(id);
const BUSY_STATES = new Set(["reserved", "busy"]);

let snapshot = null;
let pop = null; // {sid, context, offer}
const handled = new Set(); // calls this agent answered: notes can be saved on them

const phone = page.dataset.mode === "local" ? simulatedPhone() : twilioPhone();

/** The simulated softphone of local mode: the server's simulator rings it; we answer through our API. */
function simulatedPhone() {
  const act = (action) => api(`/api/softphone/${action}`, { method: "POST" });
  return {
    ringing: () => Boolean(snapshot && snapshot.ringing),
    answer: () => act("answer"),
    reject: () => act("reject"),
    hangup: () => act("hangup"),
  };
}

/** Our own sounds for the SDK (web/sounds.py), so that nothing is fetched from Twilio's CDN. */
const SOUNDS = {
  incoming: "/static/sounds/ring.wav",
  outgoing: "/static/sounds/ring.wav",
  disconnect: "/static/sounds/hangup.wav",
  ...Object.fromEntries([..."0123456789sh"].map((key) => [`dtmf${key}`, `/static/sounds/dtmf-${key}.wav`])),
};

/** The Twilio Voice JS SDK (vendored): a Device registered with an access token for this agent's identity. */
function twilioPhone() {
  let incoming = null;
  let active = null;
  const status = (text) => { $("sdk-status").textContent = text; };
  const token = async () => (await api("/api/softphone/token", { method: "POST" })).token;
  (async () => {
    try {
      status(_("Connecting to Twilio…"));
      const device = new window.Twilio.Device(await token(), { closeProtection: true, sounds: SOUNDS });
      device.on("registered", () => status(_("Connected to Twilio: calls ring here.")));
      device.on("unregistered", () => status(_("Not connected to Twilio: calls cannot ring here.")));
      device.on("incoming", (call) => {
        incoming = call;
        const gone = () => { if (incoming === call) incoming = null; if (active === call) active = null; render(); };
        call.on("cancel", gone);
        call.on("disconnect", gone);
        call.on("reject", gone);
        render();
      });
      device.on("tokenWillExpire", async () => device.updateToken(await token()));
      device.on("error", (error) => showError($("phone-error"), error));
      await device.register();
    } catch (error) {
      showError($("phone-error"), error);
      status(_("The softphone could not connect to Twilio."));
    }
  })();
  return {
    ringing: () => incoming !== null,
    answer: async () => { incoming.accept(); active = incoming; incoming = null; },
    reject: async () => { incoming.reject(); incoming = null; },
    hangup: async () => { if (active) active.disconnect(); },
  };
}

function render() {
  if (!snapshot) return;
  const agent = snapshot.agent;
  const offer = snapshot.offer;
  $("presence").textContent = nameOf("presence", agent.presence);
  $("presence").dataset.presence = agent.presence;
  $("reason").textContent = agent.not_ready_reason ? `(${agent.not_ready_reason})` : "";
  for (const button of document.querySelectorAll("[data-set-presence]")) {
    button.setAttribute("aria-pressed", String(button.dataset.setPresence === agent.presence));
    button.disabled = BUSY_STATES.has(agent.presence);
  }
  if (agent.current_call_sid && agent.presence === "busy") handled.add(agent.current_call_sid);

  const ringing = agent.presence === "reserved" && phone.ringing();
  $("answer").disabled = !ringing;
  $("reject").disabled = !ringing;
  $("hangup").disabled = agent.presence !== "busy";
  for (const button of document.querySelectorAll("#call-customer, #history [data-call-out]")) {
    button.disabled = agent.presence !== "available";
  }
  $("phone-status").textContent = phoneStatus(agent, offer, ringing);
  const onLine = agent.presence === "busy" ? snapshot.supervisors : [];
  $("supervisor-on-line").hidden = !onLine.length;
  $("supervisor-on-line").textContent = onLine.map(({ supervisor, mode }) => (mode === "whisper"
    ? _("%(name)s is coaching you: only you hear them", { name: supervisor })
    : _("%(name)s has joined the call: the caller hears them too", { name: supervisor }))).join(" · ");
  $("wrapup").hidden = agent.presence !== "wrapup";
  renderTransfer(agent);

  const sid = (offer && offer.context_sid) || agent.current_call_sid;
  if (sid && (!pop || pop.sid !== sid)) loadPop(sid, offer);
  if (pop) {
    if (offer && offer.context_sid === pop.sid) pop.offer = offer;
    $("wrapup-form").hidden = !(handled.has(pop.sid) || (pop.context && pop.context.call.agent_id === me));
    $("pop-title").textContent = pop.sid !== sid ? _("Last call") : agent.presence === "reserved" ? _("Incoming call") : _("Current call");
  }
  tick();
}

/** The transfer form while talking to a caller; Complete / Back to the caller while a warm transfer is under way. */
function renderTransfer(agent) {
  const out = snapshot.transfer_out;
  const talking = agent.presence === "busy" && Boolean(agent.current_call_sid) && !snapshot.transfer_in;
  $("transfer-form").hidden = !talking || Boolean(out);
  $("consult").hidden = !(talking && out && out.mode === "warm");
  if (!$("transfer-form").hidden && transferTargetsFor !== agent.current_call_sid) loadTransferTargets(agent.current_call_sid);
  if (out && out.mode === "warm") {
    const name = out.to_name || out.to_agent;
    $("consult-status").textContent = out.state === "consulting"
      ? _("You are talking with %(name)s; the caller is on hold.", { name })
      : _("Ringing %(name)s; the caller is on hold.", { name });
    $("transfer-complete").disabled = out.state !== "consulting";
  }
}

let transferTargetsFor = null; // the call whose transfer choices are loaded

/** The queues and colleagues a call can go to (colleagues not available are listed, and cannot be chosen). */
async function loadTransferTargets(sid) {
  transferTargetsFor = sid;
  const { queues, agents } = await api("/api/colleagues");
  $("transfer-to").replaceChildren(
    el("optgroup", { label: _("Queues") }, ...queues.map((q) => el("option", { value: `queue:${q}` }, nameOf("queue", q)))),
    el("optgroup", { label: _("Colleagues") }, ...agents.map((a) => el("option",
      { value: `agent:${a.id}`, disabled: a.presence !== "available" },
      `${a.name} (${nameOf("presence", a.presence)})`))));
}

function phoneStatus(agent, offer, ringing) {
  const asking = snapshot.transfer_in;
  if (asking && asking.mode === "warm") {
    return agent.presence === "reserved"
      ? _("Ringing: %(name)s asks you to take a call", { name: asking.from_name })
      : _("%(name)s is telling you about the call; the caller is on hold", { name: asking.from_name });
  }
  if (agent.presence === "reserved") {
    if (!offer && ringing && agent.current_call_sid) return _("Your call out: answer your phone to dial the customer");
    if (!offer) return ringing ? _("Ringing: a call") : _("Reserved for a call; connecting…");
    const queue = nameOf("queue", offer.queue);
    if (offer.kind === "callback") {
      return ringing ? _("Ringing: a callback from the %(queue)s queue", { queue })
        : _("Reserved for a callback from the %(queue)s queue; connecting…", { queue });
    }
    return ringing ? _("Ringing: a call from the %(queue)s queue", { queue })
      : _("Reserved for a call from the %(queue)s queue; connecting…", { queue });
  }
  return {
    busy: _("On a call"),
    wrapup: _("Wrap-up: notes and disposition"),
    available: _("Waiting for calls"),
    break: _("On a break: no calls"),
    offline: _("Offline: no calls"),
  }[agent.presence] || nameOf("presence", agent.presence);
}

/** Every second: time in state, wrap-up countdown, the caller's wait. */
function tick() {
  if (!snapshot) return;
  const agent = snapshot.agent;
  $("in-state").textContent = duration(secondsSince(agent.presence_since));
  $("wrapup-left").textContent = duration(secondsUntil(agent.wrapup_until));
  if (pop && pop.context) setField("wait", waitText(pop));
}

function waitText({ context, offer }) {
  if (offer && offer.context_sid === context.call.sid && offer.kind === "call") return duration(secondsSince(offer.entered_at));
  return duration(context.call.wait_s);
}

function setField(name, value) {
  page.querySelector(`#pop [data-field="${name}"]`).textContent = value === null || value === undefined || value === "" ? "—" : value;
}

async function loadPop(sid, offer) {
  pop = { sid, offer, context: null };
  try {
    const context = await api(`/api/calls/${encodeURIComponent(sid)}/context`);
    if (!pop || pop.sid !== sid) return;
    pop.context = context;
    showPop(pop);
  } catch (error) {
    showError($("phone-error"), error);
  }
}

function showPop({ context, offer }) {
  const { caller, call } = context;
  setField("name", caller.name || _("Unknown caller"));
  setField("number", caller.number);
  setField("language", nameOf("language", caller.language || call.language));
  setField("queue", nameOf("queue", call.queue || (offer && offer.queue)));
  setField("intent", nameOf("intent", call.intent));
  setField("confidence", call.confidence === null ? null : percent(call.confidence));
  setField("path", (call.path || []).join(" → "));
  setField("transcript", transcriptOf(call));
  setField("reason", (offer && offer.reason) || call.routing_reason);
  setField("caller_notes", caller.notes);
  const transferred = transferredBy(context.transfer);
  setField("transfer", transferred);
  for (const node of document.querySelectorAll("#pop [data-transfer]")) node.hidden = !transferred;
  $("call-customer").hidden = !caller.number;
  $("pop-callback").hidden = !((offer && offer.kind === "callback") || call.callback_id);
  $("pop-callback").textContent = context.callback_for
    ? _("Callback for the call at %(time)s", { time: timeOfDay(context.callback_for.started_at) })
    : _("Callback");

  const history = $("history").tBodies[0];
  history.replaceChildren(...context.history.map((h) => el("tr", {},
    el("td", {}, dateTime(h.started_at)), el("td", {}, nameOf("intent", h.intent) || "—"),
    el("td", {}, nameOf("outcome", h.outcome) || "—"), el("td", {}, h.agent_name || h.agent_id || "—"),
    el("td", {}, nameOf("disposition", h.disposition) || "—"), el("td", { dir: "auto" }, h.notes || "—"),
    el("td", {}, caller.number  // (a call back about that call counts in its queue)
      ? el("button", { type: "button", "data-call-out": "", "data-queue": h.queue || "" }, _("Call")) : "—"))));
  if (!context.history.length) history.append(el("tr", {}, el("td", { colspan: 7 }, _("No previous calls."))));
  const orders = $("orders").tBodies[0];
  orders.replaceChildren(...context.open_orders.map((o) => el("tr", {},
    el("td", { dir: "ltr" }, o.number), el("td", { dir: "auto" }, o.item), el("td", { dir: "auto" }, o.status),
    el("td", { dir: "auto" }, o.eta || "—"))));
  if (!context.open_orders.length) orders.append(el("tr", {}, el("td", { colspan: 4 }, _("No open orders."))));

  $("notes").value = call.notes || "";
  $("disposition").value = call.disposition || "";
  $("saved").textContent = "";
  $("pop").hidden = false;
  render();
}

/** Who transferred the call to this agent, how, and their note ("by Olga Smirnova (warm): asks about a refund"). */
function transferredBy(sent) {
  if (!sent || sent.state === "failed") return null;
  const mode = sent.mode === "warm" ? _("warm") : _("cold");
  const note = sent.note || _("no note");
  return _("by %(agent)s (%(mode)s): %(note)s", { agent: sent.from_name, mode, note });
}

/** What the caller said: the stored transcript, else the speech heard at each menu. */
function transcriptOf(call) {
  const text = call.transcript || (call.speech || []).map((s) => s.text).filter(Boolean).join(" · ");
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

function run(action, errorElement) {
  return async () => {
    showError(errorElement, null);
    try {
      await action();
    } catch (error) {
      showError(errorElement, error);
    }
  };
}

for (const button of document.querySelectorAll("[data-set-presence]")) {
  button.addEventListener("click", run(
    () => api("/api/presence", { method: "POST", body: { presence: button.dataset.setPresence } }), $("presence-error")));
}
$("answer").addEventListener("click", run(() => phone.answer(), $("phone-error")));
$("reject").addEventListener("click", run(() => phone.reject(), $("phone-error")));
$("hangup").addEventListener("click", run(() => phone.hangup(), $("phone-error")));
$("call-customer").addEventListener("click", run(
  () => callOut(pop.context.caller.number, pop.context.call.queue), $("phone-error")));
$("history").addEventListener("click", (event) => {
  const button = event.target.closest("[data-call-out]");
  if (button) run(() => callOut(pop.context.caller.number, button.dataset.queue || null), $("phone-error"))();
});
$("ready").addEventListener("click", run(
  () => api("/api/presence", { method: "POST", body: { presence: "available" } }), $("phone-error")));
$("transfer-form").addEventListener("submit", (event) => {
  event.preventDefault();
  run(async () => {
    const [kind, target] = $("transfer-to").value.split(/:(.*)/s);
    const mode = document.querySelector('input[name="transfer-mode"]:checked').value;
    await api(`/api/calls/${encodeURIComponent(snapshot.agent.current_call_sid)}/transfer`, {
      method: "POST", body: { [kind === "queue" ? "to_queue" : "to_agent"]: target, mode, note: $("transfer-note").value },
    });
    $("transfer-note").value = "";
  }, $("transfer-error"))();
});
for (const action of ["complete", "cancel"]) {
  $(`transfer-${action}`).addEventListener("click", run(() => api(
    `/api/calls/${encodeURIComponent(snapshot.agent.current_call_sid)}/transfer/${action}`, { method: "POST" }),
  $("transfer-error")));
}
$("wrapup-form").addEventListener("submit", (event) => {
  event.preventDefault();
  run(async () => {
    await api(`/api/calls/${encodeURIComponent(pop.sid)}/wrapup`, {
      method: "POST", body: { notes: $("notes").value, disposition: $("disposition").value },
    });
    $("saved").textContent = _("Saved.");
  }, $("phone-error"))();
});

live((next) => { snapshot = next; render(); }, $("live"));
setInterval(tick, 1000);
