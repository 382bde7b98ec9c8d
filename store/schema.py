"""The schema, one registered migration per change. Never edit an applied migration: add one."""

from __future__ import annotations

import sqlite_utils

from store import dialect
from store.migrations import migration


@migration
def m001_initial(db: sqlite_utils.Database) -> None:
    """Callers, calls, events, agents, skills, queues, callbacks, surveys, orders."""
    db["callers"].create(
        {"id": int, "number": str, "name": str, "language": str, "notes": str, "created_at": str},
        pk="id",
    )
    db["callers"].create_index(["number"], unique=True)

    db["calls"].create(
        {
            "sid": str,
            "caller_id": int,
            "from_number": str,
            "to_number": str,
            "direction": str,
            "status": str,
            "language": str,
            "flow": str,
            "node": str,
            "path": str,  # JSON list of node ids, in order
            "digits": str,  # JSON list of {node, digits}
            "speech": str,  # JSON list of {node, text, confidence}
            "intent": str,
            "confidence": float,
            "queue": str,
            "agent_id": str,
            "outcome": str,
            "disposition": str,
            "notes": str,
            "started_at": str,
            "answered_at": str,
            "queued_at": str,
            "connected_at": str,
            "ended_at": str,
            "wait_s": float,
            "talk_s": float,
            "parent_sid": str,
            "callback_id": int,
        },
        pk="sid",
        foreign_keys=[("caller_id", "callers", "id")],
        defaults={"path": "[]", "digits": "[]", "speech": "[]"},
    )
    db["calls"].create_index(["caller_id", "started_at"])

    db["call_events"].create(
        {"id": int, "call_sid": str, "at": str, "kind": str, "data": str},
        pk="id",
        foreign_keys=[("call_sid", "calls", "sid")],
    )
    db["call_events"].create_index(["call_sid", "id"])
    for statement in dialect.of(db).append_only("call_events"):
        db.execute(statement)

    # One row per (call, status) Twilio reported: makes status callbacks idempotent.
    db["call_statuses"].create(
        {"call_sid": str, "status": str, "at": str, "duration_s": int},
        pk=("call_sid", "status"),
    )

    db["agents"].create(
        {
            "id": str,
            "name": str,
            "role": str,  # agent | supervisor
            "password_hash": str,
            "languages": str,  # JSON list of language codes
            "presence": str,  # offline | available | reserved | busy | wrapup | break
            "presence_since": str,
            "last_idle_at": str,
            "current_call_sid": str,
        },
        pk="id",
        defaults={"role": "agent", "languages": "[]", "presence": "offline"},
    )
    db["skills"].create({"name": str, "description": str}, pk="name")
    db["agent_skills"].create(
        {"agent_id": str, "skill": str, "level": int},
        pk=("agent_id", "skill"),
        foreign_keys=[("agent_id", "agents", "id"), ("skill", "skills", "name")],
    )
    db["queues"].create(
        {
            "name": str,
            "description": str,
            "skills": str,  # JSON {skill: minimum level}
            "language": str,
            "priority": int,
            "sl_target_s": int,
            "sl_target_pct": int,
            "wrapup_s": int,
            "escalation": str,  # JSON list of steps
        },
        pk="name",
        defaults={"skills": "{}", "priority": 0, "sl_target_s": 20, "sl_target_pct": 80, "wrapup_s": 30, "escalation": "[]"},
    )

    db["callbacks"].create(
        {
            "id": int,
            "call_sid": str,  # the call on which it was asked for
            "caller_id": int,
            "number": str,
            "queue": str,
            "entered_at": str,  # the original place in line
            "scheduled_for": str,
            "status": str,  # pending | dialing | completed | failed | cancelled
            "attempts": int,
            "last_result": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        foreign_keys=[("call_sid", "calls", "sid"), ("caller_id", "callers", "id")],
        defaults={"status": "pending", "attempts": 0},
    )
    db["callbacks"].create_index(["status", "entered_at"])

    db["survey_answers"].create(
        {"id": int, "call_sid": str, "question": str, "score": int, "at": str},
        pk="id",
        foreign_keys=[("call_sid", "calls", "sid")],
    )
    db["survey_answers"].create_index(["call_sid", "question"], unique=True)

    db["orders"].create(
        {"number": str, "caller_id": int, "item": str, "status": str, "eta": str, "updated_at": str},
        pk="number",
        foreign_keys=[("caller_id", "callers", "id")],
    )


@migration
def m002_routing(db: sqlite_utils.Database) -> None:
    """Routing: the waiting/offered items, the routing event log, agents' current work, the call's reason."""
    db["queue_items"].create(
        {
            "id": str,  # the call sid, or "callback:<id>"
            "kind": str,  # call | callback
            "call_sid": str,
            "callback_id": int,
            "queue": str,
            "language": str,
            "priority": int,
            "entered_at": str,  # the caller's place in line; kept through ring-no-answer and callbacks
            "not_before": str,  # a scheduled callback is not offered before this
            "caller_id": int,
            "last_agent_id": str,
            "context": str,  # JSON: path, intent, transcript, ...
            "state": str,  # waiting | offered
            "offered_to": str,
            "offered_at": str,
            "reason": str,  # the latest routing decision, in words
            "offers": int,  # how many times it was offered
        },
        pk="id",
        defaults={"state": "waiting", "priority": 0, "offers": 0, "context": "{}"},
    )
    db["queue_items"].create_index(["queue", "state"])
    # The database itself refuses a second open offer to one agent.
    db.execute("CREATE UNIQUE INDEX queue_items_one_offer_per_agent ON queue_items (offered_to) WHERE offered_to IS NOT NULL")

    # Append-only log of every routing change, in commit order (id).
    db["routing_events"].create(
        {
            "id": int,
            "at": str,
            "kind": str,  # enqueued | offered | accepted | no-answer | withdrawn | abandoned | cancelled | ended | presence
            "item_id": str,
            "agent_id": str,
            "queue": str,
            "seconds": float,  # accepted/abandoned: wait; ended: talk
            "reason": str,
        },
        pk="id",
    )
    db["routing_events"].create_index(["queue", "kind", "id"])
    db["routing_events"].create_index(["agent_id", "id"])
    for statement in dialect.of(db).append_only("routing_events"):
        db.execute(statement)

    for column in ("current_item", "current_queue", "not_ready_reason", "wrapup_until"):
        db["agents"].add_column(column, str)
    db["agents"].create_index(["presence"])
    db["calls"].add_column("routing_reason", str)


@migration
def m003_call_transcript(db: sqlite_utils.Database) -> None:
    """What the caller said, as text, for the screen pop (kept only when STORE_TRANSCRIPTS is on)."""
    db["calls"].add_column("transcript", str)


@migration
def m004_callback_dialing(db: sqlite_utils.Database) -> None:
    """Callbacks remember who dials them, since when, and the outbound call that was placed."""
    for column in ("agent_id", "dialing_since", "placed_call_sid", "from_number", "language"):
        db["callbacks"].add_column(column, str)
    db["callbacks"].create_index(["number", "status"])


@migration
def m005_web_monitor_index(db: sqlite_utils.Database) -> None:
    """The supervisor's figures of today read answered items by kind and time."""
    db["routing_events"].create_index(["kind", "at"])


@migration
def m006_routing_instance(db: sqlite_utils.Database) -> None:
    """A random identity of this database: a process's routing indexes (routing.live) never mix two databases."""
    db.execute(f"CREATE TABLE routing_instance AS SELECT {dialect.of(db).random_id} AS id")


@migration
def m007_offer_ringing(db: sqlite_utils.Database) -> None:
    """When the agent's phone started ringing for an offer (the agent leg's "ringing" status)."""
    db["queue_items"].add_column("ringing_at", str)


@migration
def m008_call_version(db: sqlite_utils.Database) -> None:
    """Every save of a call bumps its version: a transition decided on an older version is decided again."""
    db["calls"].add_column("version", int, not_null_default=0)


@migration
def m009_open_calls_index(db: sqlite_utils.Database) -> None:
    """Reconciliation looks up the calls that have not ended, often: an index of only those."""
    db.execute("CREATE INDEX calls_open ON calls (started_at) WHERE ended_at IS NULL")


@migration
def m010_journal_replayed(db: sqlite_utils.Database) -> None:
    """Webhooks kept in the journal while the database could not be written, once applied (each applied once)."""
    db["journal_replayed"].create({"id": str, "at": str}, pk="id")


@migration
def m011_sign_in(db: sqlite_utils.Database) -> None:
    """Sessions a logout or a new password revokes (``session_epoch``), demo logins (known passwords, refused
    outside local mode), and failed sign-ins per account and per address (throttling)."""
    db["agents"].add_column("session_epoch", int, not_null_default=0)
    db["agents"].add_column("demo", int, not_null_default=0)
    db["sign_in_failures"].create({"key": str, "at": str})
    db["sign_in_failures"].create_index(["key", "at"])


@migration
def m012_stream_tokens(db: sqlite_utils.Database) -> None:
    """Media Stream tokens already used: each opens one stream, once."""
    db["stream_tokens"].create({"token": str, "at": str}, pk="token")


@migration
def m013_display_languages(db: sqlite_utils.Database) -> None:
    """The language each person reads the pages in (none: the browser's), and queues' display names per language."""
    db["agents"].add_column("ui_language", str)
    db["queues"].add_column("names", str, not_null_default="{}")


@migration
def m014_alerts(db: sqlite_utils.Database) -> None:
    """Queue alerts (raised once per queue and kind while their condition lasts) and their webhook deliveries."""
    db["queues"].add_column("alerts", str, not_null_default="{}")
    db["alerts"].create({"id": int, "queue": str, "kind": str, "detail": str, "raised_at": str, "cleared_at": str},
                        pk="id")
    db.execute("CREATE UNIQUE INDEX alerts_open ON alerts (queue, kind) WHERE cleared_at IS NULL")
    db["alert_deliveries"].create({"id": int, "alert_id": int, "state": str, "attempts": int, "next_attempt_at": str,
                                   "delivered_at": str, "last_error": str}, pk="id",
                                  foreign_keys=[("alert_id", "alerts", "id")], defaults={"attempts": 0})
    db["alert_deliveries"].create_index(["alert_id", "state"], unique=True)
    db["alert_deliveries"].create_index(["delivered_at", "next_attempt_at"])


@migration
def m015_voicemails(db: sqlite_utils.Database) -> None:
    """Callers' messages: a WAV on our disk, its transcript, and the task of calling back (open until done)."""
    db["voicemails"].create({"id": int, "call_sid": str, "caller_id": int, "number": str, "language": str,
                             "queue": str, "path": str, "seconds": float, "transcript": str, "ended_by": str,
                             "created_at": str, "status": str, "done_by": str, "done_at": str}, pk="id",
                            defaults={"status": "open"})
    db["voicemails"].create_index(["status", "created_at"])


@migration
def m016_refuse_unstaffed(db: sqlite_utils.Database) -> None:
    """A queue that, with nobody staffed who could take a caller, says so and takes a message instead of a wait."""
    db["queues"].add_column("refuse_unstaffed", int, not_null_default=0)



@migration
def m017_leases(db: sqlite_utils.Database) -> None:
    """Work that one node does for all (callback recovery, reconciliation, retention): who holds it, until when."""
    db["leases"].create({"name": str, "holder": str, "until": str}, pk="name")


@migration
def m018_conferences(db: sqlite_utils.Database) -> None:
    """A call's bridge moved into a conference (so a third party can join), supervisors monitoring calls, and
    transfers from one agent to a colleague or a queue."""
    db["calls"].add_column("agent_leg", str)  # the agent's leg of the <Dial> (its CallSid)
    db["calls"].add_column("conference", str)  # set when the call is moved into its conference; then its SID
    db["monitors"].create({"id": int, "call_sid": str, "supervisor_id": str, "mode": str, "leg_sid": str,
                           "started_at": str, "joined_at": str, "ended_at": str}, pk="id")
    db.execute("CREATE UNIQUE INDEX monitors_open ON monitors (call_sid, supervisor_id) WHERE ended_at IS NULL")
    db["transfers"].create({"id": int, "call_sid": str, "from_agent": str, "to_agent": str, "to_queue": str,
                            "from_queue": str, "mode": str, "note": str, "state": str, "leg_sid": str, "hold": str,
                            "created_at": str, "answered_at": str, "ended_at": str}, pk="id")
    db.execute("CREATE UNIQUE INDEX transfers_open ON transfers (call_sid) WHERE ended_at IS NULL")
    db["transfers"].create_index(["created_at"])
    db["routing_events"].create_index(["item_id", "kind"])  # (was this call answered in this queue before?)
