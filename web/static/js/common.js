// Shared helpers of the pages: the JSON API with CSRF, the live event stream, safe DOM building, times.

const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
let clockOffsetMs = 0; // server time − browser time, from each snapshot's "now"

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
  if (!response.ok) throw new Error(data.error || `the server answered ${response.status}`);
  return data;
}

/** Follow /events: onSnapshot(snapshot) for every snapshot pushed; the status element says Live or Reconnecting.
 * A stream the server refused (429/503: its live connections are taken) is opened again a few seconds later. */
export function live(onSnapshot, statusElement) {
  const source = new EventSource("/events");
  source.onmessage = (event) => {
    const snapshot = JSON.parse(event.data);
    clockOffsetMs = Date.parse(snapshot.now) - Date.now();
    statusElement.textContent = "Live";
    statusElement.dataset.state = "live";
    onSnapshot(snapshot);
  };
  source.onerror = () => {
    statusElement.textContent = "Reconnecting…";
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

/** 75 → "1:15"; 3725 → "1:02:05"; null → "—". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const total = Math.floor(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
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

/** "2026-11-25T10:15:00+00:00" → "25 Nov 2026, 10:15" in the browser's locale. */
export function dateTime(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
