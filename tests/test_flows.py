"""Flows are data; a flow that refers to a missing node or prompt fails at start-up with a clear message."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from babel import Locale

from core.model import Match
from ivr import flows
from ivr.engine import likeliest
from ivr.exceptions import IvrError
from tests.databases import app_config

ROOT = Path(__file__).resolve().parent.parent


def broken_copy(tmp_path: Path, change) -> Path:
    folder = tmp_path / "flows"
    shutil.copytree(flows.FLOWS_DIR, folder)
    data = yaml.safe_load((folder / "en.yaml").read_text())
    change(data)
    (folder / "en.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
    return folder


def test_the_shipped_flows_are_valid_and_cover_english_and_russian():
    loaded = flows.load_all()
    assert {"en", "ru"} <= set(loaded)
    for flow in loaded.values():
        assert flows.validate(flow) == []
        assert {node.type for node in flow.nodes.values()} >= {"prompt", "menu", "lookup", "queue", "survey", "hangup"}


def test_every_language_has_the_same_nodes_as_english():
    loaded = flows.load_all()
    for language, flow in loaded.items():
        assert set(flow.nodes) == set(loaded["en"].nodes), language


def test_missing_node_is_named(tmp_path):
    folder = broken_copy(tmp_path, lambda d: d["nodes"]["main_menu"]["options"][0].update(next="nowhere"))
    with pytest.raises(IvrError, match="node 'main_menu' option 1 refers to missing node 'nowhere'"):
        flows.load_all(folder)


def test_missing_prompt_is_named(tmp_path):
    folder = broken_copy(tmp_path, lambda d: d["prompts"].pop("order_ask"))
    with pytest.raises(IvrError, match="node 'order_lookup' refers to missing prompt 'order_ask'"):
        flows.load_all(folder)


def test_agent_key_cannot_be_taken_by_an_option(tmp_path):
    folder = broken_copy(tmp_path, lambda d: d["nodes"]["main_menu"]["options"][0].update(key="0"))
    with pytest.raises(IvrError, match="kept for the agent"):
        flows.load_all(folder)


def test_lookup_prompt_may_only_use_known_fields(tmp_path):
    folder = broken_copy(tmp_path, lambda d: d["prompts"].update(order_found="Order {number} costs {price}"))
    with pytest.raises(IvrError, match="uses fields not in"):
        flows.load_all(folder)


def test_flows_check_command_reports_each_flow(tmp_path):
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "flows", "check"], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "DATABASE_PATH": str(tmp_path / "check.db")})
    assert result.returncode == 0, result.stderr
    assert "en: flow 'main' ok" in result.stdout
    assert "ru: flow 'main' ok" in result.stdout


def test_a_broken_flow_stops_the_server_at_start_up(tmp_path, monkeypatch):
    """create_app refuses to start with an invalid flow (monkeypatch points the loader at a broken copy)."""
    from app import create_app

    folder = broken_copy(tmp_path, lambda d: d.update(start="missing_start"))
    monkeypatch.setattr(flows, "FLOWS_DIR", folder)
    monkeypatch.setattr(flows.load_all, "__defaults__", (folder,))
    with pytest.raises(IvrError, match="start refers to missing node 'missing_start'"):
        create_app(app_config({"DATABASE_PATH": str(tmp_path / "x.db")}))


@pytest.mark.parametrize("language", ["ru", "fa", "ko", "en"])
def test_counted_minutes_take_the_form_babels_plural_rules_give_each_count(language):
    flow = flows.load_all()[language]
    rules = Locale.parse(language).plural_form
    for count in (1, 2, 4, 5, 11, 21):
        expected = flow.plurals["minutes"][rules(count)].format(count=count)
        assert flow.counted("minutes", count) == expected, (language, count)
    if language == "ru":  # one, few and many are three different words
        assert len({flow.counted("minutes", n).split()[1] for n in (1, 2, 5)}) == 3


def test_a_flow_without_a_plural_form_its_language_needs_is_refused():
    data = yaml.safe_load((flows.FLOWS_DIR / "ru.yaml").read_text(encoding="utf-8"))
    data["plurals"]["minutes"].pop("few")
    faults = flows.validate(flows.parse(data, "ru.yaml"))
    assert any("plurals.minutes needs exactly the forms ['few', 'many', 'one', 'other']" in fault for fault in faults)


def test_every_speech_menu_option_can_be_offered_alone_in_every_language():
    for language, flow in flows.load_all().items():
        menu = flow.node("main_menu")
        assert "narrowed" in flow.messages, language
        assert all(option.offer for option in menu.options if option.phrases), language
        assert {option.offer for option in menu.options if option.offer} <= set(flow.all_texts())  # pre-rendered


def test_the_likeliest_options_of_a_rejected_utterance_are_the_ones_it_pointed_to_most():
    menu = flows.load_all()["ko"].node("main_menu")
    heard = Match("reject", None, None, 0.2, "환불 오더 오더",
                  {"refund": 0.2, "order_status": 0.35, "billing": 0.0, "agent": 0.3, "opening_hours": 0.9})
    # opening hours has no words to say in Korean and the agent is always 0: neither is offered
    assert likeliest(menu, heard) == ("1", "4")
    assert likeliest(menu, Match("reject", None, None, 0.0, "", {})) == ()


@pytest.mark.parametrize(("choice", "said"), [("환불", "환불이라고"), ("오더", "오더라고"), ("상담원", "상담원이라고"),
                                             ("요금제", "요금제라고"), ("3", "3이라고"), ("5", "5라고")])
def test_the_korean_confirmation_takes_the_particle_the_word_before_it_needs(choice, said):
    text = flows.load_all()["ko"].text("confirm", choice=choice)
    assert text.startswith(f"{said} 말씀하셨나요?"), text
