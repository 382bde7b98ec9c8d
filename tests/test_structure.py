"""The shape the code keeps: dependencies point one way, the core and the engines touch neither Flask nor the store,
no product package imports the simulator, and the URLs the core builds are the routes the views serve."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

from core.urls import Urls
from tests.conftest import ROOT

PRODUCT = ("core", "wire", "store", "routing", "callbacks", "ivr", "speech", "telephony", "services", "voice", "web")
TOPS = {*PRODUCT, "simulator", "settings", "app"}


def imports_of(package: str) -> dict[str, set[str]]:
    """Per module of ``package``: the top-level names of ours it imports."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in (ROOT / package).rglob("*.py"):
        module = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module] if (
                isinstance(node, ast.ImportFrom) and node.level == 0 and node.module) else []
            found[module] |= {name.split(".")[0] for name in names}
    return found


def package_graph() -> dict[str, set[str]]:
    graph = {}
    for package in (*PRODUCT, "simulator"):
        uses = set().union(*imports_of(package).values())
        graph[package] = (uses & TOPS) - {package}
    return graph


def test_no_two_packages_import_each_other():
    graph = package_graph()
    assert sorted({tuple(sorted((a, b))) for a in graph for b in graph[a] if a in graph.get(b, set())}) == []


def test_no_product_package_imports_the_simulator():
    assert [package for package, uses in package_graph().items() if "simulator" in uses and package != "simulator"] == []


def test_the_simulator_uses_nothing_of_the_server_but_the_wire_formats():
    assert package_graph()["simulator"] <= {"wire"}


@pytest.mark.parametrize("package", ["core", "wire", "store", "routing", "callbacks", "ivr", "speech", "telephony", "services"])
def test_below_the_views_nothing_imports_flask(package):
    assert {module for module, uses in imports_of(package).items() if "flask" in uses} == set()


@pytest.mark.parametrize("package", ["core", "ivr", "wire"])
def test_the_core_and_the_flow_engine_touch_no_store(package):
    assert {module for module, uses in imports_of(package).items() if uses & {"store", "sqlite_utils", "sqlite3"}} == set()


def test_every_url_the_core_builds_is_a_route_of_the_views(app):
    urls = Urls("http://cc.example.com")
    built = {
        "voice.incoming": urls.incoming(), "voice.status": urls.status(), "voice.step": urls.step("main_menu", 2),
        "voice.queue_wait": urls.queue_wait("billing"), "voice.queue_hold": urls.queue_hold("billing", 10),
        "voice.queue_result": urls.queue_result(), "voice.connect": urls.connect("CA1", "ann"),
        "voice.connect_result": urls.connect_result("CA1", "ann"), "voice.agent_leg": urls.agent_leg("CA1", "ann"),
        "voice.record": urls.call_record("CA1"), "callbacks.offer": urls.callback_offer(),
        "callbacks.number": urls.callback_number("enter", 2), "callbacks.time_of_day": urls.callback_time("+12025550123"),
        "callbacks.pending": urls.callback_pending(3), "callbacks.answer": urls.callback_answer(3, "ann", "confirm"),
        "callbacks.status": urls.callback_status(3, "ann"), "media.media": urls.media_stream(),
        "voicemail.voicemail": urls.voicemail_stream(), "voicemail.done": urls.voicemail_done(),
        "outbound.connect": urls.outbound_connect("ann", "+12025550123"), "outbound.result": urls.outbound_result("ann"),
        "conference.agent": urls.conference_agent("CA1"), "conference.result": urls.conference_result("CA1"),
        "conference.events": urls.conference_events("CA1"), "conference.monitor_leg": urls.monitor_leg("CA1", "sam"),
        "conference.caller": urls.conference_caller("CA1"), "transfer.caller": urls.transferred("CA1"),
        "transfer.hold": urls.transfer_hold("CA1", again=True), "transfer.consult_leg": urls.consult_leg("CA1", "ann"),
        "static": urls.static("hold.wav"), "prompts.prompt": urls.prompt("abc.wav"),
    }
    adapter = app.url_map.bind("cc.example.com")
    for endpoint, url in built.items():
        path = url.split("cc.example.com", 1)[1].split("?")[0]
        method = "GET" if endpoint in ("voice.record", "media.media", "voicemail.voicemail", "static",
                                       "prompts.prompt") else "POST"
        assert adapter.match(path, method=method, websocket=url.startswith("ws"))[0] == endpoint, url
    assert set(built) >= {rule.endpoint for rule in app.url_map.iter_rules() if rule.rule.startswith("/voice")}


def test_every_package_exists_as_named():
    assert all((ROOT / package / "__init__.py").is_file() for package in PRODUCT)
    assert not Path(ROOT / "ivr" / "views.py").exists()  # the webhooks live in voice/
