"""Nothing lost, nobody stuck, when webhooks are lost: the server is killed (-9) mid-call and started again, and what
happened meanwhile is learned from the platform (reconciliation), never left as a stuck agent or a ghost caller.

Real processes: `python app.py` in Twilio mode against the simulated Twilio in its own process
(`python -m simulator serve`), which keeps running and calling while the server is down, and does what Twilio does
then: one retry of a refused connection, the application-error sentence and a hang-up when TwiML cannot be fetched,
status callbacks dropped. For the killed work horse: redis-server and `python -m services.worker` processes."""

import os
import secrets
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import requests
import yaml

from routing import admin
from routing import service as routing
from tests import lifecycle
from tests.conftest import ROOT, Server, free_port, new_number
from tests.test_callbacks_faults import Redis, wait_for

ACCOUNT = "AC" + "0" * 32
APPLICATION_ERROR = "We are sorry, an application error has occurred. Goodbye."


class Center:
    """The server and the simulated Twilio it talks to, each a process of its own."""

    def __init__(self, tmp_path, extra_env: dict[str, str] | None = None) -> None:
        self.tmp_path = tmp_path
        token = secrets.token_hex(16)
        web_port, sim_port = free_port(), free_port()
        self.sim_url = f"http://127.0.0.1:{sim_port}/sim"
        self.sim = subprocess.Popen([sys.executable, "-m", "simulator", "serve", "--port", str(sim_port), "--server-url",
                                     f"http://127.0.0.1:{web_port}", "--auth-token", token], cwd=ROOT,
                                    stdout=open(tmp_path / "sim.log", "wb"), stderr=subprocess.STDOUT)
        env = {"TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": token, "TWILIO_API_BASE_URL": f"{self.sim_url}/twilio",
               "PUBLIC_BASE_URL": f"http://127.0.0.1:{web_port}", "CALLBACK_CALLER_ID": "+12025550123",
               "OPENING_HOURS": "mon-sun 00:00-24:00", "RING_TIMEOUT_S": "10", "RECONCILE_EVERY_S": "2",
               "RECONCILE_AFTER_S": "1", "CALLBACK_OFFER_AFTER_S": "600", **(extra_env or {})}
        self.server = Server(tmp_path, env, port=web_port)
        wait_for(self._sim_up, 20, "simulator up")
        self.server.start()
        center = tmp_path / "center.yaml"
        center.write_text(yaml.safe_dump({"skills": {"support": "Support"},
                                          "queues": {"support": {"skills": {"support": 3}, "wrapup_s": 0}}}))
        self.server.seed(lambda db: admin.load_center(db, center, datetime.now(UTC)))

    def _sim_up(self) -> bool:
        try:
            return requests.get(self.sim_url + "/", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    def agent(self, name: str, **phone) -> str:
        """An available support agent with a simulated softphone that behaves as ``phone`` says."""
        agent_id = f"{name}_{secrets.token_hex(3)}"
        path = self.tmp_path / f"{agent_id}.yaml"
        path.write_text(yaml.safe_dump({"agents": [{"id": agent_id, "name": name, "languages": ["en"],
                                                    "skills": {"support": 5}}]}))
        self.server.seed(lambda db: admin.load_center(db, path, datetime.now(UTC)))
        assert requests.post(f"{self.sim_url}/clients/{agent_id}", json=phone, timeout=5).status_code == 200
        self.server.seed(lambda db: routing.set_presence(db, agent_id, "available", datetime.now(UTC)))
        return agent_id

    def call(self, **script) -> str:
        """A caller who presses 3 (support) and waits in the queue as ``script`` says."""
        body = {"from": new_number(), "steps": [{"keys": "3"}], **script}
        created = requests.post(f"{self.sim_url}/calls", json=body, timeout=10)
        assert created.status_code == 201, created.text
        return created.json()["call_sid"]

    def book_callback(self, number: str) -> None:
        """A caller of a minute ago who asked to be called back (their phone answers and talks 1 s)."""
        requests.post(f"{self.sim_url}/customers/{number}", json={"behaviour": "answer", "talk_s": 1}, timeout=5)

        def book(db) -> None:
            sid, at = "CA" + secrets.token_hex(16), datetime.now(UTC) - timedelta(minutes=1)
            lifecycle.start(db, sid, at, number, to_number="+15550001000", language="en", flow="main")
            lifecycle.enqueue(db, sid, "support", at)
            lifecycle.book_callback(db, sid, number, at)

        self.server.seed(book)

    def sim_call(self, sid: str) -> dict:
        return requests.get(f"{self.sim_url}/calls/{sid}", timeout=10).json()

    def sim_kinds(self, sid: str) -> list[str]:
        """What happened to the call at the platform, in order (the simulator's event kinds)."""
        return [event["kind"] for event in self.sim_call(sid)["events"]]

    def agent_row(self, agent_id: str) -> dict:
        return self.server.query("SELECT * FROM agents WHERE id = ?", [agent_id])[0]

    def call_row(self, sid: str) -> dict:
        return self.server.query("SELECT * FROM calls WHERE sid = ?", [sid])[0]

    def events(self, sid: str) -> list[str]:
        return [r["kind"] for r in self.server.query("SELECT kind FROM call_events WHERE call_sid = ? ORDER BY id", [sid])]

    def reconciliations_stopped(self) -> int:
        """How many reconciliation passes the server's log says the platform stopped."""
        return self.server.log_path.read_text(errors="replace").count("reconciliation stopped")

    def kill_server(self) -> None:
        self.server.proc.send_signal(signal.SIGKILL)
        self.server.proc.wait(10)

    def close(self) -> None:
        if self.server.proc and self.server.proc.poll() is None:
            self.server.stop()
        self.sim.kill()


@pytest.fixture
def center(tmp_path):
    running = Center(tmp_path)
    yield running
    running.close()


def test_an_agent_whose_call_ended_while_the_server_was_down_is_not_left_busy(center):
    agent = center.agent("ana", answer_after_s=0.2, talk_s=4)
    sid = center.call()
    wait_for(lambda: center.agent_row(agent)["presence"] == "busy", 30, "agent on the call")
    center.kill_server()  # the agent's hang-up, the Dial's action and the call's end are all lost
    wait_for(lambda: center.sim_call(sid)["ended"], 30, "call over at the platform")
    assert APPLICATION_ERROR in center.sim_call(sid)["heard"]  # what Twilio says when it cannot reach us
    center.server.start()

    wait_for(lambda: center.agent_row(agent)["presence"] == "available", 20, "agent free again")
    row = center.call_row(sid)
    assert row["ended_at"] and row["outcome"] == "answered" and row["agent_id"] == agent
    assert row["talk_s"] is not None
    assert "reconciled" in center.events(sid) and center.events(sid).count("agent-left") == 1


def test_an_agent_who_answered_while_the_server_was_down_is_on_the_call_not_on_break(center):
    agent = center.agent("ben", answer_after_s=3, talk_s=12)
    sid = center.call()
    # ringing at the platform, not only reserved here: killed between the two, the ring's TwiML is never fetched
    wait_for(lambda: "ringing" in center.sim_kinds(sid), 30, "agent's phone ringing")
    center.kill_server()  # the agent answers 3 s later: the "answered" report is lost
    wait_for(lambda: center.sim_call(sid).get("agent") == agent, 20, "bridged at the platform")
    center.server.start()

    wait_for(lambda: center.agent_row(agent)["presence"] == "busy", 20, "agent on the call")
    assert center.agent_row(agent)["current_call_sid"] == sid
    wait_for(lambda: center.sim_call(sid)["ended"], 40, "call over")  # the Dial's action reaches us again
    wait_for(lambda: center.agent_row(agent)["presence"] == "available", 20, "agent free after the call")
    assert center.agent_row(agent)["not_ready_reason"] is None
    row = center.call_row(sid)
    assert row["outcome"] == "answered" and row["connected_at"]
    kinds = center.server.query("SELECT kind FROM routing_events WHERE agent_id = ?", [agent])
    assert "no-answer" not in [k["kind"] for k in kinds]
    assert "ring-no-answer" not in center.events(sid)


def test_callers_who_hung_up_while_the_server_was_down_leave_the_queue_once(center):
    callers = [center.call(hold_s=3) for _ in range(3)]  # nobody staffed: they wait, then give up
    wait_for(lambda: len(center.server.query("SELECT id FROM queue_items")) == 3, 30, "three callers queued")
    center.kill_server()
    wait_for(lambda: all(center.sim_call(sid)["ended"] for sid in callers), 30, "callers gone at the platform")
    center.server.start()
    agent = center.agent("cy", answer_after_s=0.2, talk_s=1)

    wait_for(lambda: center.server.query("SELECT id FROM queue_items") == [], 20, "queue empty")
    for sid in callers:
        row = center.call_row(sid)
        assert row["outcome"] == "abandoned" and row["ended_at"], row
        abandoned = center.server.query("SELECT id FROM routing_events WHERE item_id = ? AND kind = 'abandoned'", [sid])
        assert len(abandoned) == 1
    offers = center.server.query("SELECT id FROM routing_events WHERE agent_id = ? AND kind = 'offered'", [agent])
    assert offers == []  # no ghost was offered to the agent
    assert center.agent_row(agent)["presence"] == "available"


@pytest.fixture
def center_checking_after_a_minute(tmp_path):
    """A center whose reconciliation leaves calls younger than a minute alone (the default is 30 s): a restart comes
    within that age of the calls that were waiting."""
    running = Center(tmp_path, {"RECONCILE_AFTER_S": "60"})
    yield running
    running.close()


def test_routing_waits_for_the_start_up_reconciliation_while_twilio_does_not_answer(center_checking_after_a_minute):
    """Callers who hung up while the server was down are settled before an agent can be offered them, even when the
    restart comes within RECONCILE_AFTER_S of their calls' start (a fresh-clone CI offered them once, when the restart
    came 0.8 s after the calls began and RECONCILE_AFTER_S was 1 s: the start-up pass had skipped them as too young)."""
    center = center_checking_after_a_minute
    callers = [center.call(hold_s=3) for _ in range(2)]
    wait_for(lambda: len(center.server.query("SELECT id FROM queue_items")) == 2, 30, "two callers queued")
    center.kill_server()
    wait_for(lambda: all(center.sim_call(sid)["ended"] for sid in callers), 30, "callers gone at the platform")
    requests.post(f"{center.sim_url}/twilio-api", json={"down": True}, timeout=5)
    center.server.start()
    wait_for(lambda: center.reconciliations_stopped() >= 1, 20, "the start-up reconciliation stopped: Twilio is down")
    agent = center.agent("di", answer_after_s=0.2, talk_s=1)
    stopped = center.reconciliations_stopped()
    wait_for(lambda: center.reconciliations_stopped() > stopped, 20, "another pass, routing rounds in between")
    assert center.server.query("SELECT agent_id FROM routing_events WHERE kind = 'offered'") == []
    assert len(center.server.query("SELECT id FROM queue_items")) == 2  # they wait: nobody knows they are gone

    requests.post(f"{center.sim_url}/twilio-api", json={"down": False}, timeout=5)
    wait_for(lambda: center.server.query("SELECT id FROM queue_items") == [], 20, "queue empty")
    assert center.server.query("SELECT agent_id FROM routing_events WHERE kind = 'offered'") == []
    assert all(center.call_row(sid)["outcome"] == "abandoned" for sid in callers)
    assert center.agent_row(agent)["presence"] == "available"


def test_a_supervisor_can_force_a_busy_agent_free_and_it_is_recorded(center):
    agent = center.agent("dee", answer_after_s=0.2, talk_s=30)
    center.call()
    wait_for(lambda: center.agent_row(agent)["presence"] == "busy", 30, "agent on the call")
    refused = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "agents", "presence", agent, "available"],
                             cwd=ROOT, env=center.server.env, capture_output=True, text=True)
    assert refused.returncode == 1 and "a supervisor can force it" in refused.stderr
    forced = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "agents", "presence", agent, "break",
                             "--force", "--reason", "stuck after an outage"], cwd=ROOT, env=center.server.env,
                            capture_output=True, text=True)
    assert forced.returncode == 0, forced.stderr
    assert center.agent_row(agent)["presence"] == "break"
    audit = center.server.query("SELECT reason FROM routing_events WHERE agent_id = ? AND kind = 'forced'", [agent])
    assert len(audit) == 1 and audit[0]["reason"].startswith("busy to break by cli:")
    assert "stuck after an outage" in audit[0]["reason"]


def test_a_dial_job_killed_with_its_worker_is_run_again_and_dials_once(tmp_path):
    redis = Redis(free_port()).start()
    running = Center(tmp_path, {"REDIS_URL": f"redis://127.0.0.1:{redis.port}/0", "CALLBACK_RECOVER_AFTER_S": "3",
                                "CALLBACK_RING_S": "5"})
    workers: list[subprocess.Popen] = []

    def start_worker() -> subprocess.Popen:
        log = open(tmp_path / f"worker{len(workers)}.log", "wb")
        workers.append(subprocess.Popen([sys.executable, "-m", "services.worker"], cwd=ROOT,
                                        env={**os.environ, **running.server.env}, stdout=log, stderr=subprocess.STDOUT))
        return workers[-1]

    try:
        number = "+12025553344"
        requests.post(f"{running.sim_url}/twilio-api", json={"hang_s": 30}, timeout=5)  # calls.create hangs
        worker = start_worker()

        running.book_callback(number)
        agent = running.agent("eve", answer_after_s=0.2, talk_s=1)
        wait_for(lambda: running.server.query("SELECT status FROM callbacks")[0]["status"] == "dialing", 30,
                 "the dial job running")
        horses = [int(pid) for pid in subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True,
                                                     text=True).stdout.split()]
        assert horses, "the work horse running the dial job"
        for pid in [*horses, worker.pid]:  # the worker and its work horse (a session of its own), mid-request
            os.kill(pid, signal.SIGKILL)
        worker.wait(10)
        requests.post(f"{running.sim_url}/twilio-api", json={"hang_s": 0}, timeout=5)
        start_worker()

        wait_for(lambda: running.server.query("SELECT status FROM callbacks")[0]["status"] == "completed", 60,
                 "callback completed")
        placed = [c for c in requests.get(f"{running.sim_url}/calls", timeout=10).json()["calls"]
                  if c["direction"] == "outbound-api" and c["to"] == number]
        assert len(placed) == 1
        wait_for(lambda: running.agent_row(agent)["presence"] == "available", 20, "agent free")
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.kill()
        running.close()
        redis.kill()


def test_a_callback_dial_does_not_wait_behind_prompt_rendering(tmp_path):
    """40 new sentences to render (real espeak renderings, the bulk queue) are waiting when an agent is reserved for a callback:
    the one worker takes the dial (the calls queue) as soon as the rendering it is doing ends, before any other
    rendering, while the rest of the rendering still waits. Told from rq's own job times, not from the clock."""
    redis = Redis(free_port()).start()
    running = Center(tmp_path, {"REDIS_URL": f"redis://127.0.0.1:{redis.port}/0"})
    worker = None
    try:
        from redis import Redis as Client
        from rq import Queue
        from rq.job import Job

        from services.jobqueue import callback_job
        from services.jobs import render_prompt

        connection = Client(port=redis.port)
        bulk = Queue("bulk", connection=connection)
        renderings = [bulk.enqueue(render_prompt, f"Sentence number {n} of a long announcement nobody has heard yet.", "en")
                      for n in range(40)]
        worker = subprocess.Popen([sys.executable, "-m", "services.worker"], cwd=ROOT,
                                  env={**os.environ, **running.server.env},
                                  stdout=open(tmp_path / "worker.log", "wb"), stderr=subprocess.STDOUT)
        wait_for(lambda: len(bulk) < 40, 30, "the worker rendering")
        number = "+12025554455"

        running.book_callback(number)
        running.agent("fay", answer_after_s=0.2, talk_s=1)
        wait_for(lambda: running.server.query("SELECT placed_call_sid FROM callbacks")[0]["placed_call_sid"], 60,
                 "the callback dialled")
        dial = Job.fetch(callback_job(running.server.query("SELECT id FROM callbacks")[0]["id"]), connection=connection)
        for job in renderings:
            job.refresh()
        jumped = [job.id for job in renderings if job.started_at and dial.enqueued_at < job.started_at < dial.started_at]
        # rq stamps started_at in the work horse, after the fork: the rendering the one worker had taken from the queue
        # just before the dial arrived may show a later start. Any more would have been taken after the dial.
        assert len(jumped) <= 1, f"renderings started while the dial was waiting: {jumped}"
        assert len(bulk) > 0, "the dial went out only after all the rendering"
    finally:
        if worker is not None:
            worker.kill()
        running.close()
        redis.kill()
