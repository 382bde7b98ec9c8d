// Shared helpers of the pages: the JSON API with CSRF, the live event stream, safe DOM building, the page's
// language (messages, plural forms, names, digits, dates in the center's time zone).

const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
let clockOffsetMs = 0; // server time − browser time, from each snapshot's "now"

// The page's language as the server put it in the page (web/i18n.py).
const I18N = JSON.parse(document.getElementById("i18n").textContent);
const NUMBERS = { numberingSystem: I18N.latinDigits ? "latn" : undefined };
const pluralRules = new Intl.PluralRules(I18N.locale);
const integers = new Intl.NumberFormat(I18N.locale, { ...NUMBERS, maximumFractionDigits: 0 });
const twoDigits = new Intl.NumberFormat(I18N.locale, { ...NUMBERS, minimumIntegerDigits: 2, useGrouping: false });
const tenth = new Intl.NumberFormat(I18N.locale, { ...NUMBERS, minimumFractionDigits: 1, maximumFractionDigits: 1 });
const percents = new Intl.NumberFormat(I18N.locale, { ...NUMBERS, style: "percent", maximumFractionDigits: 0 });
const DATES = { ...NUMBERS, timeZone: I18N.timeZone, calendar: "gregory" };
export const names = I18N.names;

/** "%(name)s" placeholders filled from values (numbers in the page's digits). */
function fill(text, values = {}) {
  return text.replace(/%\((\w+)\)[sd]/g, (placeholder, name) => {
    const value = values[name];
    if (value === undefined) return placeholder;
    return typeof value === "number" ? integers.format(value) : String(value);
  });
}

/** A message in the page's language (the English text when the catalog has none). */
export function _(message, values) {
  const text = I18N.messages[message];
  return fill(typeof text === "string" ? text : message, values);
}

/** A message with a count, in the plural form the language uses for that count; %(num)d is the count. */
export function ngettext(singular, plural, count, values = {}) {
  const forms = I18N.messages[singular];
  const category = pluralRules.select(count);
  const text = forms && typeof forms === "object" ? forms[category] || forms.other : count === 1 ? singular : plural;
  return fill(text, { num: count, ...values });
}

/** The display name of a value in the data (a state, outcome, queue, intent…), else the value itself. */
export function nameOf(kind, value) {
  if (value === null || value === undefined || value === "") return value;
  return (names[kind] && names[kind][value]) || value;
}

/** 1234 → "1,234" / "۱٬۲۳۴"; 0.82 → "82%" / "۸۲٪" in the page's language. */
export const number = (value) => integers.format(value);
/** 2.25 → "2.3" / "۲٫۳". */
export const tenths = (value) => tenth.format(value);
/** 7 → "07" / "۰۷". */
export const padded = (value) => twoDigits.format(value);
export const percent = (ratio) => (ratio === null || ratio === undefined ? "—" : percents.format(ratio));

/** Call our JSON API; throws an Error with the server's message when it refuses. */
export async function api(path, { method = "GET", body } = {}) {
  const headers = { "X-CSRF-Token": csrfToken, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (response.status === 401) {
    window.location.assign(`/login?next=${encodeURIComponent(window.location.pathname)}`);
  }
  if (!response.ok) throw new Error(data.error || _("The server answered %(status)s.", { status: response.status }));
  return data;
}

/** Click-to-call: the agent's phone rings, and once they answer the customer is dialled with the center's number. */
export function callOut(number, queue) {
  return api("/api/calls/outbound", { method: "POST", body: { to: number, ...(queue ? { queue } : {}) } });
}

/** Follow /events: onSnapshot(snapshot) for every snapshot pushed; the status element says Live or Reconnecting.
 * A stream the server refused (429/503: its live connections are taken) is opened again a few seconds later. */
export function live(onSnapshot, statusElement) {
  const source = new EventSource("/events");
  source.onmessage = (event) => {
    const snapshot = JSON.parse(event.data);
    clockOffsetMs = Date.parse(snapshot.now) - Date.now();
    statusElement.textContent = _("Live");
    statusElement.dataset.state = "live";
    onSnapshot(snapshot);
  };
  source.onerror = () => {
    statusElement.textContent = _("Reconnecting…");
    statusElement.dataset.state = "down";
    if (source.readyState === EventSource.CLOSED) {  // refused, not dropped: the browser will not retry by itself
      setTimeout(() => live(onSnapshot, statusElement), 5000 + Math.random() * 5000);
    }
  };
  return source;
}

/** Seconds from an ISO time to now on the server's clock (null without a time). */
export function secondsSince(iso) {
  return iso ? Math.max(0, (Date.now() + clockOffsetMs - Date.parse(iso)) / 1000) : null;
}

/** Seconds until an ISO time on the server's clock, never negative. */
export function secondsUntil(iso) {
  return iso ? Math.max(0, (Date.parse(iso) - Date.now() - clockOffsetMs) / 1000) : null;
}

/** 75 → "1:15"; 3725 → "1:02:05"; null → "—" (in the page's digits). */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const total = Math.floor(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = twoDigits.format(total % 60);
  return h ? `${integers.format(h)}:${twoDigits.format(m)}:${s}` : `${integers.format(m)}:${s}`;
}

/** A wait in words with the language's plural forms: "1 minute", "5 минут", "45 ثانیه". */
export function waitWords(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const total = Math.floor(seconds);
  if (total < 60) return ngettext("%(num)d second", "%(num)d seconds", total);
  return ngettext("%(num)d minute", "%(num)d minutes", Math.floor(total / 60));
}

/** An element with attributes and children; strings become text nodes, never markup. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined && value !== false) node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** Show an error message in an alert element, or hide it with null. */
export function showError(element, error) {
  element.hidden = !error;
  element.textContent = error ? error.message || String(error) : "";
}

/** "2026-11-25T10:15:00+00:00" → "25 Nov 2026, 10:15" in the page's language and the center's time zone. */
export function dateTime(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString(I18N.locale, { ...DATES, dateStyle: "medium", timeStyle: "short" });
}

/** "2026-11-25T00:00:00+03:00" → "25 Nov 2026": the date in the center's time zone. */
export function dateOnly(iso) {
  return new Date(iso).toLocaleDateString(I18N.locale, { ...DATES, dateStyle: "medium" });
}

/** "2026-11-25" (a calendar day, no time zone) → "25 Nov 2026". */
export function calendarDay(day) {
  return new Date(`${day}T12:00:00Z`).toLocaleDateString(I18N.locale, { ...DATES, timeZone: "UTC", dateStyle: "medium" });
}

/** "2026-11-25T10:15:00+00:00" → "10:15" in the center's time zone. */
export function timeOfDay(iso) {
  return new Date(iso).toLocaleTimeString(I18N.locale, { ...DATES, hour: "2-digit", minute: "2-digit" });
}

/** The header's language menu: the choice is kept on the person's account, and the page comes back in it. */
const languageMenu = document.getElementById("page-language");
if (languageMenu) {
  languageMenu.addEventListener("change", async () => {
    await api("/api/me/language", { method: "POST", body: { language: languageMenu.value } });
    window.location.reload();
  });
}
