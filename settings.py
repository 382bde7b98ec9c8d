"""Every setting of the server, declared once as data and read from the environment.

Each entry has a name, a type, a default and help text; the README's settings table is
generated from this list (``python settings.py --markdown``) and a test checks it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core.constants import LANGUAGES
from core.errors import ConfigError


class SettingsError(ConfigError):
    """A setting in the environment has a value of the wrong form."""


def _bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true/false, got {raw!r}")


def _str(raw: str) -> str:
    return raw.strip()


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}, got {raw!r}")
        return value

    return parse


@dataclass(frozen=True)
class Setting:
    name: str
    type: Callable[[str], Any]
    default: Any
    help: str

    def parse(self, raw: str) -> Any:
        try:
            return self.type(raw)
        except ValueError as exc:
            raise SettingsError(f"{self.name}: {exc}") from None


SETTINGS: tuple[Setting, ...] = (
    Setting("TWILIO_ACCOUNT_SID", _str, "", "Twilio account SID (AC…). Empty: local mode with the simulator."),
    Setting("TWILIO_AUTH_TOKEN", _str, "", "Twilio auth token; validates X-Twilio-Signature. Empty: a generated local token (instance/local_auth_token)."),
    Setting("TWILIO_API_KEY", _str, "", "API key SID (SK…) for Voice SDK access tokens."),
    Setting("TWILIO_API_SECRET", _str, "", "Secret of TWILIO_API_KEY."),
    Setting("TWILIO_TWIML_APP_SID", _str, "", "TwiML App SID (AP…) the agents' browser softphones use."),
    Setting("TWILIO_API_BASE_URL", _str, "", "Base URL of the Twilio REST API. Empty: api.twilio.com, or the built-in simulator in local mode."),
    Setting("PUBLIC_BASE_URL", _str, "", "The URL Twilio reaches this server at (https://cc.example.com); signatures are checked and every callback URL is built on it. Required with Twilio; empty in local mode: http://127.0.0.1:PORT."),
    Setting("DATABASE_PATH", _str, "", "SQLite database file. Empty: instance/contact_center.db."),
    Setting("INSTANCE_DIR", _str, "", "This node's own folder (secrets, prompt audio, messages, the journal). Empty: instance/ beside app.py. An absolute path."),
    Setting("NODE_NAME", _str, "", "This node's name in a center of several nodes (the housekeeping lease, /healthz). Empty: the host's name."),
    Setting("DATABASE_URL", _str, "", "PostgreSQL instead of SQLite: postgresql://user@host:5432/dbname (add ?options=-csearch_path%3Dname for a schema). Empty: SQLite at DATABASE_PATH."),
    Setting("LIVE_CONNECTIONS", int, 12, "Event streams and Media Streams one web process serves at once (each holds a request thread for as long as it lasts): keep it below gunicorn's --threads, so that the rest always answer webhooks."),
    Setting("LIVE_CONNECTIONS_PER_USER", int, 3, "Event streams one signed-in person may hold open at once, per web process."),
    Setting("SERVE", _choice("all", "requests", "live"), "all", "What this process serves: all; requests (webhooks, pages, API: /events and /voice/media answer 421); live (only the long-lived /events and /voice/media, and /healthz). Run a requests pool and a live pool behind one proxy so that live connections never hold a webhook's thread."),
    Setting("STORE_WRITE_WAIT_S", float, 1.0, "How long a webhook waits for the database's write lock; after that (or on a full disk, a read-only file) it answers the caller and keeps its report in JOURNAL_PATH, applied when the database can be written again."),
    Setting("JOURNAL_PATH", _str, "", "The webhook journal (a file). Empty: DATABASE_PATH + '.journal'; put it on another filesystem than the database to survive a full disk."),
    Setting("REDIS_URL", _str, "", "Redis for rq jobs and live events. Empty: an embedded in-process stand-in."),
    *(
        Setting(f"VOSK_MODEL_{lang.upper()}", _str, "", f"Folder of the Vosk model for '{lang}'. Empty: found automatically if a model package is installed.")
        for lang in LANGUAGES
    ),
    Setting("CALLBACK_OFFER_AFTER_S", int, 60, "Offer a callback to callers whose estimated wait exceeds this many seconds."),
    Setting("MAX_PENDING_CALLBACKS_PER_NUMBER", int, 2, "Pending callbacks one phone number may hold at once."),
    Setting("CALLBACK_MAX_ATTEMPTS", int, 3, "Attempts to reach a customer for a callback before it is marked failed."),
    Setting("CALLBACK_RETRY_S", float, 120.0, "First retry delay for a callback the customer did not answer; doubles each attempt."),
    Setting("CALLBACK_RING_S", int, 30, "Seconds a callback call rings the customer before it counts as not answered."),
    Setting("CALLBACK_RECOVER_AFTER_S", float, 120.0, "A callback dialling this long without news is checked against Twilio's call log."),
    Setting("RECONCILE_EVERY_S", float, 60.0, "How often calls whose reports may have been lost (open calls, ringing and busy agents) are checked against Twilio; also at start-up."),
    Setting("RECONCILE_AFTER_S", float, 30.0, "A call is checked against Twilio once it has been open this long (its webhooks may still be on their way before)."),
    Setting("CALLBACK_CALLER_ID", _str, "+15550001000", "Caller ID of callback calls when the original call's number is unknown: one of your Twilio numbers (the fictional default is refused with Twilio)."),
    Setting("OPENING_HOURS", _str, "mon-fri 08:00-20:00; sat 09:00-13:00", "When the lines are open (callers out of hours hear when we open and may book a callback for then) and callbacks may be placed, in TIMEZONE."),
    Setting("TIMEZONE", _str, "UTC", "Time zone of OPENING_HOURS (IANA name)."),
    Setting("VOICEMAIL_DIR", _str, "", "Folder of callers' messages (WAV, mode 0600). Empty: instance/voicemail."),
    Setting("VOICEMAIL_MAX_S", int, 120, "Longest message a caller may leave, in seconds."),
    Setting("VOICEMAIL_SILENCE_S", float, 3.0, "Silence that ends a message once the caller has spoken, in seconds."),
    Setting("HOLIDAYS_FILE", _str, "", "YAML list of the days the center is closed ({date: YYYY-MM-DD, names: {en: …, ru: …, fa: …, ko: …}}): callers hear the holiday's name, callbacks wait for the next opening. Empty: none."),
    Setting("SPEECH_INPUT", _choice("vosk", "twilio", "dtmf"), "vosk", "How menus listen: vosk (Media Streams + local Vosk where a model exists, else keys), twilio (<Gather input=speech>: audio goes to Twilio), dtmf (keys only)."),
    Setting("RETENTION_DAYS", int, 0, "Calls that ended more than this many days ago lose what is personal (numbers, keys, words, notes, event logs; their figures stay), checked daily. 0: kept."),
    Setting("STORE_TRANSCRIPTS", _bool, True, "Keep what callers said on the call row; false keeps only the intent."),
    Setting("MAX_REPROMPTS", int, 2, "Re-prompts after no input or no match before the caller goes to a human."),
    Setting("RING_TIMEOUT_S", int, 15, "Seconds an agent's phone rings before the call goes to the next agent."),
    Setting("DEFAULT_REGION", _str, "US", "Region for caller numbers without a country code (phonenumbers)."),
    Setting("NUMBER_LANGUAGES", _str, "", "Our numbers and the language of callers who dial them, e.g. \"+15550001000=en, +74955550100=ru\": a caller we do not know yet gets the dialed number's language, else their country's, else the language menu."),
    Setting("DEFAULT_LANGUAGE", _str, "en", "Flow language for callers who choose nothing at the language menu, and the pages' language for people whose choice and browser say nothing we have."),
    Setting("LATIN_DIGITS", _bool, False, "Pages write numbers with 0–9 in every language (false: each language's own digits, e.g. Persian ۰–۹)."),
    Setting("PROMPT_CACHE_DIR", _str, "", "Folder of rendered prompt audio. Empty: instance/prompts."),
    Setting("SECRET_KEY", _str, "", "Signs session cookies. Empty: a generated key kept in instance/secret_key."),
    Setting("ALERT_WEBHOOK_URL", _str, "", "Where queue alerts are POSTed as JSON when raised and when cleared (signed, retried with backoff). Empty: shown on the monitor only."),
    Setting("ALERT_WEBHOOK_SECRET", _str, "", "Signs each alert POST: X-Alert-Signature = sha256=HMAC-SHA256(secret, \"<X-Alert-Timestamp>.<body>\"). Required with ALERT_WEBHOOK_URL."),
    Setting("PORT", int, 5000, "Port of `python app.py` / `make run`."),
    Setting("TRUSTED_PROXIES", int, 0, "Reverse proxies in front of the server (1: one nginx) whose X-Forwarded-For and X-Forwarded-Proto are believed: sign-in throttling then counts the caller's address, not the proxy's. 0: the headers are ignored (anyone could send them)."),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


def load(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return every setting, taken from ``environ`` where set, else its default."""
    environ = os.environ if environ is None else environ
    return {s.name: s.parse(environ[s.name]) if s.name in environ else s.default for s in SETTINGS}


def markdown_table() -> str:
    """The settings as the Markdown table that stands in the README."""
    rows = ["| Setting | Default | What it does |", "| --- | --- | --- |"]
    for s in SETTINGS:
        default = "" if s.default in ("", None) else f"`{str(s.default).lower() if isinstance(s.default, bool) else s.default}`"
        rows.append(f"| `{s.name}` | {default} | {s.help} |")
    return "\n".join(rows)


if __name__ == "__main__":
    if sys.argv[1:] == ["--markdown"]:
        print(markdown_table())
    else:
        for name, value in load().items():
            print(f"{name}={value}")
