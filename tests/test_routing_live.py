"""Each process's live routing indexes follow the routing event log: after any sequence of operations they hold
exactly what a rebuild from the database would, and a stale copy can never reserve anyone."""

from __future__ import annotations

import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from routing import admin, live, service
from routing.exceptions import RoutingError
from routing.selection import Router
from store import routing as store
from store.db import transaction
from store.migrations import migrate
from tests import lifecycle
from tests.databases import connect_db as connect

T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
CENTER = """
skills: {s: S, t: T}
queues:
  fast: {skills: {s: 1}, wrapup_s: 0}
  slow: {skills: {t: 2}, wrapup_s: 20, escalation: [{after_s: 30, min_level_delta: -1}, {after_s: 60, overflow: fast}]}
agents:
  - {id: a1, languages: [en], skills: {s: 3, t: 2}, presence: available}
  - {id: a2, languages: [en, ru], skills: {s: 5}, presence: available}
  - {id: a3, languages: [ru], skills: {t: 4}, presence: available}
  - {id: a4, languages: [en], skills: {s: 1, t: 5}, presence: available}
"""


def open_center(tmp_path: Path, name: str = "live.db"):
    db = connect(str(tmp_path / name))
    migrate(db)
    (tmp_path / "center.yaml").write_text(CENTER, encoding="utf-8")
    admin.load_center(db, tmp_path / "center.yaml", T0)
    return db


@pytest.fixture
def db(tmp_path: Path):
    database = open_center(tmp_path)
    yield database
    database.conn.close()


def snapshot(router: Router) -> tuple:
    """What the indexes hold: every available agent as filed, every waiting item with its place."""
    return (
        sorted(
            (a.id, sorted(a.skills.items()), sorted(a.languages), a.idle_since())
            for a in router.available.agents.values()
        ),
        sorted((i.id, i.queue, i.entered_at, i.not_before) for i in router.waiting.items.values()),
    )


def fresh(db) -> Router:
    live.for_database(db).drop()
    with transaction(db):
        return live.for_database(db).current(db)


def kept(db) -> Router:
    with transaction(db):
        return live.for_database(db).current(db)


def random_step(db, rng: random.Random, now: datetime, serial: int) -> None:
    """One operation of the kind the server performs, on a random target; refusals are part of the game."""
    op = rng.choice(["enqueue", "enqueue", "callback", "dispatch", "answer", "no-answer", "withdraw", "abandon",
                     "hang-up", "wrap-up", "presence", "reload"])  # fmt: skip
    offered = store.items(db, state="offered")
    queued = store.items(db)
    try:
        if op == "enqueue":
            lifecycle.start(db, f"CA{serial}", T0)
            service.enqueue_call(
                db, f"CA{serial}", rng.choice(["fast", "slow"]), now, language=rng.choice(["en", "ru"])
            )
        elif op == "callback":
            service.enqueue_callback(db, serial, "slow", now - timedelta(seconds=rng.randint(0, 90)), now)
        elif op == "dispatch":
            service.dispatch(db, now)
        elif op in ("answer", "no-answer", "withdraw") and offered:
            row = rng.choice(offered)
            if op == "answer":
                service.accept(db, row["id"], row["offered_to"], now)
            elif op == "no-answer":
                service.ring_no_answer(db, row["id"], row["offered_to"], now)
            else:
                service.withdraw(
                    db, row["id"], now, reason="test", not_before=now + timedelta(seconds=rng.randint(0, 20))
                )
        elif op == "abandon" and queued:
            service.cancel(db, rng.choice(queued)["id"], now, reason="gone")
        elif op == "hang-up":
            for row in store.agents(db, presence=["busy"])[:1]:
                service.hang_up(db, row["id"], now)
        elif op == "wrap-up":
            service.finish_wrapups(db, now)
        elif op == "presence":
            service.set_presence(
                db, rng.choice(["a1", "a2", "a3", "a4"]), rng.choice(["available", "break", "offline"]), now
            )
        elif op == "reload":
            level = rng.randint(1, 5)
            text = f"agents: [{{id: a1, languages: [en, ru], skills: {{s: {level}, t: 2}}}}]"
            with tempfile.NamedTemporaryFile("w", suffix=".yaml") as center:
                center.write(text)
                center.flush()
                admin.load_center(db, center.name, now)
    except RoutingError:
        pass


@pytest.mark.parametrize("seed", range(6))
def test_the_kept_indexes_always_equal_a_rebuild_from_the_database(db, seed):
    rng = random.Random(seed)
    now = T0
    for serial in range(150):
        now += timedelta(seconds=rng.choice([0, 1, 5, 15]))
        random_step(db, rng, now, serial)
        if serial % 5 == 0:
            assert snapshot(kept(db)) == snapshot(fresh(db)), f"step {serial}"


def test_a_write_that_forgot_its_event_cannot_make_a_stale_index_reserve_a_busy_agent(db):
    lifecycle.start(db, "CA1", T0)
    service.enqueue_call(db, "CA1", "fast", T0, language="en")
    service.set_presence(db, "a1", "offline", T0)
    service.set_presence(db, "a4", "offline", T0)
    service.accept(db, "CA1", service.dispatch(db, T0)[0].agent_id, T0)  # a2: s 5
    service.hang_up(db, "a2", T0)
    kept(db)  # the process has looked at the log
    db.execute("UPDATE agents SET presence = 'break' WHERE id = 'a2'")  # a writer breaking the rule: no event

    lifecycle.start(db, "CA2", T0)
    service.enqueue_call(db, "CA2", "fast", T0 + timedelta(seconds=1), language="en")
    assert service.dispatch(db, T0 + timedelta(seconds=1)) == []  # a2 was proposed, refused in SQL, then rebuilt
    assert store.agent(db, "a2")["presence"] == "break"


def test_two_databases_in_one_process_never_share_indexes(tmp_path):
    first, second = open_center(tmp_path, "one.db"), open_center(tmp_path, "two.db")
    service.set_presence(second, "a2", "offline", T0)

    assert "a2" in kept(first).available
    assert "a2" not in kept(second).available
