"""Admin: load skills, queues and agents from a YAML file into the store (idempotent upsert).

The file (see ``store/demo/center.yaml``)::

    skills: {billing: Invoices and refunds, ...}
    queues:
      billing: {names: {en: Billing, ru: Оплата}, skills: {billing: 4}, language: null, priority: 1,
                sl_target_s: 20, sl_target_pct: 80, wrapup_s: 30, escalation: [{after_s: 30, min_level_delta: -1}, {after_s: 90, overflow: general}]}
    agents:
      - {id: alisa, name: Alisa Petrova, password: demo, languages: [ru, en], skills: {billing: 5},
         presence: available}
      - {id: sam, name: Sam Rivera, role: supervisor, password: demo, page_language: en}

Loading twice changes nothing: a password is re-hashed only when it no longer matches,
``presence`` applies only to agents who are new or offline (never to one on a call), and
``page_language`` (the language of their pages) only to people who have not chosen one themselves.
Presence changes afterwards: ``routing.service.set_presence``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils
import yaml
from werkzeug.security import check_password_hash, generate_password_hash

from core.clock import iso
from core.constants import LANGUAGES, QUEUE_DEFAULTS, ROLES
from routing import alerts, service
from routing.exceptions import RoutingError
from routing.model import MANUAL, EscalationStep, Presence, check_level
from store import routing as store
from store.db import transaction

log = logging.getLogger(__name__)

IDENTITY = re.compile(r"^[A-Za-z0-9_]{1,64}$")  # usable as a Twilio <Client> identity and in a URL


def load_center(db: sqlite_utils.Database, path: str | Path, now: datetime, *, demo: bool = False) -> dict[str, int]:
    """Upsert the skills, queues and agents of the YAML file at ``path``, all or nothing; returns counts.
    ``demo``: its agents are demo logins (known passwords), refused outside local mode."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    unknown = set(data) - {"skills", "queues", "agents"}
    if unknown:
        raise RoutingError(f"{path}: unknown sections {sorted(unknown)}")
    with transaction(db):
        for name, description in (data.get("skills") or {}).items():
            store.upsert_skill(db, str(name), str(description or ""), iso(now))
        known_skills = store.skill_names(db)
        queues = data.get("queues") or {}
        known_queues = set(queues) | {row["name"] for row in store.queues(db)}
        for name, spec in queues.items():
            store.upsert_queue(db, _queue_row(str(name), spec or {}, known_skills, known_queues), iso(now))
        for spec in data.get("agents") or []:
            _upsert_agent(db, spec, known_skills, now, demo)
    summary = {"skills": len(data.get("skills") or {}), "queues": len(queues), "agents": len(data.get("agents") or [])}
    log.info("loaded %s from %s", summary, path)
    return summary


def _skills(owner: str, levels: Any, known: set[str]) -> dict[str, int]:
    """{skill: level} with known skills and levels 1–5."""
    if not isinstance(levels, Mapping):
        raise RoutingError(f"{owner}: skills must be a mapping of skill to level")
    for skill, level in levels.items():
        if skill not in known:
            raise RoutingError(f"{owner}: unknown skill {skill}")
        check_level(f"{owner}: {skill}", level)
    return dict(levels)


def _queue_row(name: str, spec: Mapping[str, Any], known_skills: set[str], known_queues: set[str]) -> dict[str, Any]:
    unknown = set(spec) - {*QUEUE_DEFAULTS, "skills", "escalation", "names", "alerts"}
    if unknown:
        raise RoutingError(f"queue {name}: unknown keys {sorted(unknown)}")
    row = {**QUEUE_DEFAULTS, **spec, "name": name}
    row["skills"] = _skills(f"queue {name}", spec.get("skills") or {}, known_skills)
    steps = [EscalationStep.from_dict(step) for step in spec.get("escalation") or []]
    for step in steps:
        if step.overflow and step.overflow not in known_queues:
            raise RoutingError(f"queue {name}: overflow to unknown queue {step.overflow}")
    row["escalation"] = [step.to_dict() for step in steps]
    row["names"] = _display_names(f"queue {name}", spec.get("names") or {})
    row["alerts"] = alerts.check_thresholds(f"queue {name}", spec.get("alerts") or {})
    if not 1 <= int(row["sl_target_pct"]) <= 100 or int(row["sl_target_s"]) < 0 or int(row["wrapup_s"]) < 0:
        raise RoutingError(f"queue {name}: sl_target_pct is 1–100, sl_target_s and wrapup_s ≥ 0")
    return row


def _display_names(owner: str, names: Any) -> dict[str, str]:
    """{language: name shown on the pages}, for languages of ours."""
    if not isinstance(names, Mapping) or not set(names) <= set(LANGUAGES) or not all(
            isinstance(text, str) and text.strip() for text in names.values()):
        raise RoutingError(f"{owner}: names maps languages ({', '.join(LANGUAGES)}) to display names")
    return {str(language): text.strip() for language, text in names.items()}


def _upsert_agent(db: sqlite_utils.Database, spec: Mapping[str, Any], known_skills: set[str], now: datetime,
                  demo: bool) -> None:
    unknown = set(spec) - {"id", "name", "role", "password", "languages", "skills", "presence", "page_language"}
    if unknown or not spec.get("id"):
        raise RoutingError(f"agent {spec.get('id')}: needs an id; unknown keys {sorted(unknown)}")
    agent_id = str(spec["id"])
    if not IDENTITY.match(agent_id):
        raise RoutingError(f"agent {agent_id!r}: an id is 1–64 letters, digits or _ (it is the agent's Twilio <Client> identity)")
    role = spec.get("role", "agent")
    if role not in ROLES:
        raise RoutingError(f"agent {agent_id}: role is one of {ROLES}")
    languages = spec.get("languages") or []
    if not isinstance(languages, list) or not all(isinstance(code, str) for code in languages):
        raise RoutingError(f"agent {agent_id}: languages is a list of language codes")
    presence = spec.get("presence", "offline")
    if presence not in {p.value for p in MANUAL}:
        raise RoutingError(f"agent {agent_id}: presence is one of {sorted(p.value for p in MANUAL)}")
    existing = store.agent(db, agent_id)
    row: dict[str, Any] = {"id": agent_id, "name": spec.get("name", agent_id), "role": role, "languages": languages,
                           "demo": int(demo)}
    page_language = spec.get("page_language")
    if page_language is not None and page_language not in LANGUAGES:
        raise RoutingError(f"agent {agent_id}: page_language is one of {', '.join(LANGUAGES)}")
    if page_language and not (existing and existing["ui_language"]):  # the person's own choice stays theirs
        row["ui_language"] = page_language
    password = spec.get("password")
    if password and not (
        existing and existing["password_hash"] and check_password_hash(existing["password_hash"], password)
    ):
        row["password_hash"] = generate_password_hash(str(password))
        if existing:  # a new password signs out every session of the old one
            row["session_epoch"] = (existing["session_epoch"] or 0) + 1
    store.upsert_agent(db, row, _skills(f"agent {agent_id}", spec.get("skills") or {}, known_skills), iso(now))
    if role == "agent" and (existing is None or existing["presence"] == Presence.OFFLINE.value):
        service.set_presence(db, agent_id, Presence(presence), now)
