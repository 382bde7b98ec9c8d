// The caller's phone (local mode): place a simulated call, press keys, say words, read what the caller hears.
import { _, api, el, nameOf, showError, tenths } from "./common.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 300;
const KEY_PAUSE_MS = 1500; // keys typed on the keypad go out after this pause, like a phone's inter-digit timeout
const CONTROLS = ["end", "keys", "send-keys", "say", "lang", "send-say"];

let sid = null;
let next = 0;
let lastLine = null;
let keyTimer = null;

function setActive(active) {
  $("call").disabled = active;
  for (const id of CONTROLS) $(id).disabled = !active;
  for (const button of document.querySelectorAll("[data-key]")) button.disabled = !active;
  $("call-state").textContent = active ? _("in call") : sid ? _("ended") : _("idle");
}

async function guarded(action) {
  showError($("phone-error"), null);
  try {
    await action();
  } catch (error) {
    showError($("phone-error"), error);
  }
}

async function follow() {
  if (!sid) return;
  const state = await api(`/api/phone/calls/${sid}?since=${next}`);
  next = state.next;
  for (const { t, kind, line } of state.lines) {
    if (line === lastLine) continue; // hold music loops: show it once
    lastLine = line;
    $("transcript").append(el("li", { class: `line ${kind}` }, el("span", { class: "t" }, _("%(num)s s", { num: tenths(t) })), " ", line));
  }
  $("transcript").lastElementChild?.scrollIntoView({ block: "nearest" });
  if (state.ended) {
    $("transcript").append(el("li", { class: "line end" }, _("Call ended: %(outcome)s", { outcome: nameOf("outcome", state.outcome) })));
    setActive(false);
    return;
  }
  setTimeout(() => guarded(follow), POLL_MS);
}

function sendKeys() {
  clearTimeout(keyTimer);
  const keys = $("keys").value.trim();
  if (!keys || !sid) return;
  $("keys").value = "";
  guarded(() => api(`/api/phone/calls/${sid}/input`, { method: "POST", body: { keys } }));
}

function press(key) {
  $("keys").value += key;
  clearTimeout(keyTimer);
  if (key === "#") sendKeys();
  else keyTimer = setTimeout(sendKeys, KEY_PAUSE_MS);
}

$("call-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(async () => {
    const { call_sid: callSid } = await api("/api/phone/calls", { method: "POST", body: { from: $("from").value } });
    sid = callSid;
    next = 0;
    lastLine = null;
    $("transcript").replaceChildren();
    setActive(true);
    $("keys").focus();
    await follow();
  });
});
$("end").addEventListener("click", () => guarded(() => api(`/api/phone/calls/${sid}/hangup`, { method: "POST" })));
$("keys-form").addEventListener("submit", (event) => { event.preventDefault(); sendKeys(); });
$("keys").addEventListener("input", () => {
  clearTimeout(keyTimer);
  if ($("keys").value.endsWith("#")) sendKeys();
  else keyTimer = setTimeout(sendKeys, KEY_PAUSE_MS);
});
for (const button of document.querySelectorAll("[data-key]")) {
  button.addEventListener("click", () => press(button.dataset.key));
}
$("say-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("say").value.trim();
  if (!text || !sid) return;
  $("say").value = "";
  guarded(() => api(`/api/phone/calls/${sid}/input`, { method: "POST", body: { say: text, lang: $("lang").value } }));
});
setActive(false);
