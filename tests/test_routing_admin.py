"""Loading the center (skills, queues, agents) from YAML: the demo file, idempotence, validation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from werkzeug.security import check_password_hash

from routing import admin, service
from routing.exceptions import RoutingError
from store import routing as store
from store.migrations import migrate
from tests.databases import connect_db as connect

DEMO = Path(__file__).resolve().parent.parent / "store" / "demo" / "center.yaml"
NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path):
    database = connect(str(tmp_path / "admin.db"))
    migrate(database)
    yield database
    database.conn.close()


def dump(db) -> dict[str, list[dict]]:
    return {table: list(db[table].rows) for table in ("skills", "queues", "agents", "agent_skills")}


def load(db, tmp_path: Path, text: str) -> dict[str, int]:
    path = tmp_path / "center.yaml"
    path.write_text(text, encoding="utf-8")
    return admin.load_center(db, path, NOW)


def test_the_demo_center_loads_a_staffed_center_with_a_supervisor(db):
    summary = admin.load_center(db, DEMO, NOW)

    assert summary == {"skills": 3, "queues": 4, "agents": 7}
    agents = {a["id"]: a for a in store.agents(db)}
    assert agents["alisa"]["skills"]["billing"] == 5 and "ru" in agents["alisa"]["languages"]
    assert agents["dmitri"]["skills"]["billing"] < agents["alisa"]["skills"]["billing"]
    assert agents["bob"]["languages"] == ["en"] and "billing" in agents["bob"]["skills"]
    assert all(a["presence"] == "available" for a in agents.values())
    supervisor = store.agent(db, "sam")
    assert supervisor["role"] == "supervisor" and "sam" not in agents
    assert check_password_hash(supervisor["password_hash"], "demo")
    assert {q["name"] for q in store.queues(db)} == {"billing", "orders", "support", "general"}


def test_loading_twice_changes_nothing(db):
    admin.load_center(db, DEMO, NOW)
    before = dump(db)

    admin.load_center(db, DEMO, NOW)

    assert dump(db) == before


def test_reloading_updates_skills_and_never_disturbs_an_agent_on_a_call(db, tmp_path):
    load(
        db,
        tmp_path,
        "skills: {s: S}\nqueues: {q: {skills: {s: 1}}}\nagents: [{id: a, languages: [en], skills: {s: 2}, presence: available}]",
    )
    db["calls"].insert({"sid": "CA1"})
    service.enqueue_call(db, "CA1", "q", NOW)
    service.dispatch(db, NOW)

    load(db, tmp_path, "agents: [{id: a, languages: [en, ru], skills: {s: 4}, presence: break}]")

    agent = store.agent(db, "a")
    assert (agent["skills"], agent["languages"], agent["presence"]) == ({"s": 4}, ["en", "ru"], "reserved")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("agents: [{id: a, skills: {flying: 3}}]", "unknown skill flying"),
        ("agents: [{id: a, skills: {s: 6}}]", "level must be an integer 1–5"),
        ("agents: [{id: a, presence: dancing}]", "presence is one of"),
        ("queues: {q: {escalation: [{after_s: 30, overflow: nowhere}]}}", "overflow to unknown queue nowhere"),
        ("queues: {q: {escalation: [{after_s: 30}]}}", "give min_level_delta or overflow"),
        ("queues: {q: {sl_target_pct: 120}}", "sl_target_pct is 1–100"),
        ("agents: [{id: a, presence: busy}]", "presence is one of"),
        ("agents: [{id: a, role: owner}]", "role is one of"),
        ("rooms: {}", "unknown sections"),
    ],
)
def test_a_bad_center_file_is_refused_whole(db, tmp_path, text, message):
    load(db, tmp_path, "skills: {s: S}")
    before = dump(db)

    with pytest.raises(RoutingError, match=message):
        load(db, tmp_path, "skills: {t: T}\n" + text)

    assert dump(db) == before
