// The messages callers left (web/api.py /api/voicemails): play them, read the transcript, mark them done.
import { _, api, callOut, dateTime, el, nameOf, ngettext, showError, tenths } from "./common.js";

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 10_000;
const AGENT = Boolean(document.getElementById("agent-page")); // agents call back; supervisors see the list

function item(message) {
  const done = message.status === "done";
  const button = el("button", { type: "button", "data-done": message.id, disabled: done }, _("Mark done"));
  button.addEventListener("click", async () => {
    showError($("voicemails-error"), null);
    try {
      await api(`/api/voicemails/${message.id}/done`, { method: "POST" });
      await refresh();
    } catch (error) {
      showError($("voicemails-error"), error);
    }
  });
  const call = el("button", { type: "button", "data-call": message.id }, _("Call"));
  call.addEventListener("click", async () => {
    showError($("voicemails-error"), null);
    try {
      await callOut(message.number, message.queue);
    } catch (error) {
      showError($("voicemails-error"), error);
    }
  });
  const who = [message.caller_name, message.number].filter(Boolean);
  return el("li", { class: done ? "voicemail done" : "voicemail", "data-voicemail": message.id },
    el("p", {}, el("strong", {}, who.length ? el("bdi", {}, who.join(" · ")) : _("unknown")), " ",
      el("small", { class: "muted" }, `${dateTime(message.created_at)} · ${nameOf("language", message.language) || "—"}`
        + ` · ${_("%(num)s s", { num: tenths(message.seconds) })}`)),
    el("audio", { controls: true, preload: "metadata", src: `/api/voicemails/${message.id}/audio` }),
    el("p", { class: "transcript", dir: "auto" }, message.transcript || _("No transcript.")),
    done ? el("p", { class: "muted" }, _("Done by %(agent)s", { agent: message.done_by }))
      : el("p", {}, ...(AGENT && message.number ? [call, " "] : []), button));
}

async function refresh() {
  const { voicemails } = await api("/api/voicemails");
  const open = voicemails.filter((m) => m.status === "open").length;
  $("voicemails-count").textContent = ngettext("%(num)d to call back", "%(num)d to call back", open);
  const list = $("voicemails");
  const playing = [...list.querySelectorAll("audio")].some((audio) => !audio.paused);
  if (!playing) list.replaceChildren(...voicemails.map(item));  // never cut off a message someone is hearing
  if (!voicemails.length) list.replaceChildren(el("li", { class: "muted" }, _("No messages.")));
}

refresh().catch((error) => showError($("voicemails-error"), error));
setInterval(() => refresh().catch((error) => showError($("voicemails-error"), error)), REFRESH_MS);
