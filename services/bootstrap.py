"""The services of one center, built once from its settings: by ``app.create_app`` for the web processes
and by ``services.worker`` for `make worker`. Everything a view, the ticker or a job needs is a typed
attribute here; nothing is looked up by name."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core import ops
from core.clock import Clock, utcnow
from core.errors import ConfigError
from core.language import parse_number_languages
from core.policy import CallbackPolicy
from core.queue import HOLD_MUSIC
from core.stream_tokens import StreamTokens
from core.turn import Env, Rules
from core.urls import Urls
from ivr import flows as flow_data
from ivr.engine import Engine
from routing.admin import IDENTITY
from services import jobqueue
from services.jobqueue import JobQueue
from services.journal import Journal
from services.prompts import PromptAudio
from services.reconcile import Reconciler
from services.slots import Slots
from services.ticker import Ticker
from services.uow import Store
from speech import models
from store.migrations import migrate
from telephony.devices import LocalDevices
from telephony.exceptions import TelephonyError
from telephony.port import Telephony
from telephony.twilio_rest import TwilioTelephony

log = logging.getLogger(__name__)


@dataclass
class Services:
    config: dict[str, Any]  # the resolved settings (services.config.resolve)
    store: Store
    flows: Engine
    env: Env
    policy: CallbackPolicy
    telephony: Telephony
    devices: LocalDevices | None  # local mode: the simulator's phones
    jobs: JobQueue
    prompts: PromptAudio
    ticker: Ticker
    journal: Journal
    slots: Slots
    speech_languages: frozenset[str]
    clock: Clock = utcnow
    _background: bool = field(default=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def local_mode(self) -> bool:
        return bool(self.config["LOCAL_MODE"])

    def run(self, commands: Iterable[ops.Command]) -> None:
        """Carry out a committed transition's commands: wake routing, or move a caller (transfers)."""
        for command in commands:
            if isinstance(command, ops.KickRouting):
                self.ticker.kick()
            elif isinstance(command, ops.RedirectCall | ops.HoldCaller | ops.EndConference):
                self._ask_platform(command)
            else:
                raise TypeError(f"{type(command).__name__} is the routing ticker's to carry out")

    def _ask_platform(self, command: ops.RedirectCall | ops.HoldCaller | ops.EndConference) -> None:
        """A webhook's request to the platform (a caller moved back to their agent or off hold, a room ended); a
        refusal is logged: the committed change stands, and the next report settles the call."""
        try:
            if isinstance(command, ops.RedirectCall):
                self.telephony.redirect(command.call_sid, command.url)
            elif isinstance(command, ops.EndConference):
                self.telephony.end_conference(command.conference)
            else:
                self.telephony.update_participant(command.conference, command.call_sid, hold=command.hold,
                                                  hold_url=self.env.urls.static(HOLD_MUSIC) if command.hold else None)
        except TelephonyError as exc:
            log.warning("%s: %s", command, exc)

    def start_background(self) -> None:
        """The threads of a serving process (never of a CLI command or a test client): the routing ticker with
        callback recovery, the embedded rq worker (no REDIS_URL), and loading the speech models."""
        with self._lock:
            if self._background:
                return
            self._background = True
        self.jobs.start_embedded(self)
        self.ticker.start()
        threading.Thread(target=self._load_models, name="vosk-preload", daemon=True).start()

    def _load_models(self) -> None:
        for language in sorted(self.speech_languages):
            try:
                models.get_model(language, self.config)
            except Exception:
                log.exception("could not load the %s model; its callers will use the keypad", language)


def telephony_for(config: Mapping[str, Any]) -> Telephony:
    return TwilioTelephony(config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"], api_key=config["TWILIO_API_KEY"],
                           api_secret=config["TWILIO_API_SECRET"], api_base_url=config["TWILIO_API_BASE_URL"])


def stream_tokens(secret_key: str) -> StreamTokens:
    """Stream tokens keyed by a secret derived from SECRET_KEY (the same in every process of the center)."""
    return StreamTokens(hashlib.sha256(b"media stream tokens\0" + secret_key.encode()).digest())


def warn_demo_logins(store: Store, local_mode: bool) -> None:
    """With Twilio, demo logins (seeded with known passwords) are refused at sign-in: say which at start-up."""
    demo = [row["id"] for row in store.db().query("SELECT id FROM agents WHERE demo = 1 ORDER BY id")]
    if demo and not local_mode:
        log.warning("demo logins %s are refused outside local mode: give these people real passwords "
                    "(flask --app app agents load …) or remove them", demo)


def check_agent_ids(store: Store, local_mode: bool) -> None:
    """Agent ids are Twilio <Client> identities: with Twilio, refuse to start when one cannot be."""
    bad = [row["id"] for row in store.db().query("SELECT id FROM agents") if not IDENTITY.match(row["id"])]
    if not bad:
        return
    message = (f"agent ids {bad} cannot be Twilio <Client> identities (1–64 letters, digits or _): "
               "rename them (flask --app app agents load …)")
    if not local_mode:
        raise ConfigError(message)
    log.warning("%s; in local mode the simulator still rings them", message)


def bootstrap(config: Mapping[str, Any], clock: Clock = utcnow) -> Services:
    """Build every service of the center from resolved settings (services.config.resolve)."""
    resolved = dict(config)
    flow_set = flow_data.load_all()
    holidays = flow_data.load_holidays(resolved["HOLIDAYS_FILE"], set(flow_set)) if resolved["HOLIDAYS_FILE"] else {}
    policy = CallbackPolicy.from_settings(resolved, frozenset(holidays))
    store = Store(resolved["DATABASE"], policy, clock, write_wait_s=resolved["STORE_WRITE_WAIT_S"])
    journal = Journal(resolved["JOURNAL_PATH"])
    migrating = store.connect()  # its own: waits for another process's migrations longer than a webhook would
    try:
        migrate(migrating)
    finally:
        migrating.conn.close()
    check_agent_ids(store, resolved["LOCAL_MODE"])
    warn_demo_logins(store, resolved["LOCAL_MODE"])
    urls = Urls(resolved["BASE_URL"])
    flows = Engine(flow_set, resolved["DEFAULT_LANGUAGE"], holidays)
    speech_languages = frozenset(lang for lang, status in models.languages(resolved).items() if status.loadable)
    jobs = jobqueue.connect(resolved["REDIS_URL"])
    prompts = PromptAudio(resolved["PROMPT_CACHE_DIR"], urls, jobs)
    rules = Rules(
        max_reprompts=resolved["MAX_REPROMPTS"],
        ring_timeout_s=resolved["RING_TIMEOUT_S"],
        store_transcripts=resolved["STORE_TRANSCRIPTS"],
        speech_input=resolved["SPEECH_INPUT"],
        speech_languages=speech_languages,
        default_region=resolved["DEFAULT_REGION"],
        callback_offer_after_s=resolved["CALLBACK_OFFER_AFTER_S"],
        callback=policy,
        number_languages=parse_number_languages(resolved["NUMBER_LANGUAGES"], set(flow_set), resolved["DEFAULT_REGION"]),
    )
    env = Env(rules=rules, urls=urls, flows=flows, audio=prompts.find, spoken_ms=prompts.spoken_ms, tokens=stream_tokens(resolved["SECRET_KEY"]))
    telephony = telephony_for(resolved)
    ticker = Ticker(store, env, telephony, jobs, policy, journal, recover_after_s=resolved["CALLBACK_RECOVER_AFTER_S"],
                    reconcile=Reconciler(store, env, telephony, every_s=resolved["RECONCILE_EVERY_S"],
                                         after_s=resolved["RECONCILE_AFTER_S"], clock=clock),
                    retention_days=resolved["RETENTION_DAYS"], deliver_alerts=bool(resolved["ALERT_WEBHOOK_URL"]),
                    node=resolved["NODE_NAME"],
                    clock=clock)
    devices = LocalDevices(resolved["BASE_URL"] + "/sim", resolved["TWILIO_AUTH_TOKEN"]) if resolved["LOCAL_MODE"] else None
    return Services(config=resolved, store=store, flows=flows, env=env, policy=policy, telephony=telephony,
                    devices=devices, jobs=jobs, prompts=prompts, ticker=ticker, journal=journal,
                    slots=Slots(resolved["LIVE_CONNECTIONS"], resolved["LIVE_CONNECTIONS_PER_USER"]),
                    speech_languages=speech_languages,
                    clock=clock)
