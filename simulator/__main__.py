"""``python -m simulator call …``: one whole simulated call against a running server.

Against a server in local mode the call runs on the server's built-in simulator (so agents'
softphones and callbacks work); against any other server pass ``--auth-token`` and the call runs
here, signed with that token. Afterwards the summary adds what the server recorded (the intent, the
callback): like any Twilio request, that question is signed with the auth token.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import requests

from simulator.exceptions import SimulatorError
from simulator.people import Cast
from simulator.platform import Platform, script_from_json
from simulator.transcript import describe
from simulator.voices import recording
from wire.signature import sign

POLL_S = 0.2


class _Step(argparse.Action):
    """Keeps --digits, --say and --silence in the order given, as script steps."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option_string: str | None = None) -> None:
        steps = getattr(namespace, "steps", None) or []
        if option_string == "--digits":
            steps.append({"keys": values})
        elif option_string == "--say":
            steps.append({"say": values})
        elif option_string == "--audio":
            steps.append({"audio_file": values})
        else:
            steps.append({"silence": True})
        namespace.steps = steps


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m simulator", description="Simulated Twilio calls against the server.")
    sub = p.add_subparsers(dest="command", required=True)
    call = sub.add_parser("call", help="place one inbound call and print what the caller heard and did")
    call.add_argument("--from", dest="from_", required=True, help="caller ID, e.g. +15551230001 or anonymous")
    call.add_argument("--to", default="+15550001000", help="the number called")
    call.add_argument("--digits", action=_Step, help="keys to press, typed ahead (e.g. 1 or 1042#)")
    call.add_argument("--say", action=_Step, help="words to say at the next point that listens")
    call.add_argument("--audio", action=_Step, help="a recorded caller (any file sox reads) at the next point that listens")
    call.add_argument("--silence", action=_Step, nargs=0, help="say and press nothing at the next input")
    call.add_argument("--lang", default="en", help="language of --say (en, ru, fa, ko)")
    call.add_argument("--snr", type=float, default=None, help="add noise to --say at this SNR in dB")
    call.add_argument("--barge-in", type=float, default=None, metavar="SECONDS",
                      help="say --say and --audio this long after each prompt starts, over it (default: after it ends)")
    call.add_argument("--hold", type=float, default=20.0, help="seconds the caller waits in a queue before hanging up")
    call.add_argument("--talk", type=float, default=None, help="seconds the caller talks to an agent before hanging up")
    call.add_argument("--transfer", metavar="queue:NAME|agent:ID", help="the agent who answers transfers the call "
                      "(cold; --warm: talks to the colleague first, then completes)")
    call.add_argument("--warm", action="store_true", help="make --transfer a warm transfer")
    call.add_argument("--monitor", metavar="SUPERVISOR:MODE[,MODE…]",
                      help="a supervisor joins the call in these modes in turn (listen, whisper, barge, leave)")
    call.add_argument("--after", type=float, default=2.0, help="seconds between the people's steps")
    call.add_argument("--password", default="demo", help="the agents' and supervisor's password (make run's demo logins)")
    call.add_argument("--base-url", default=f"http://127.0.0.1:{os.environ.get('PORT', '5000')}")
    call.add_argument("--auth-token", default=os.environ.get("TWILIO_AUTH_TOKEN"), help="for servers not in local mode")
    call.add_argument("--json", action="store_true", help="print a JSON summary instead of the transcript")
    call.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds")
    serve = sub.add_parser("serve", help="run the simulated Twilio on its own (REST API + control API)")
    serve.add_argument("--port", type=int, default=5100)
    serve.add_argument("--server-url", required=True, help="the contact-center server the simulated calls reach")
    serve.add_argument("--auth-token", required=True, help="the server's TWILIO_AUTH_TOKEN (signs webhooks)")
    serve.add_argument("--account-sid", default="AC" + "0" * 32)
    return p


def _token(args: argparse.Namespace) -> str:
    if args.auth_token:
        return args.auth_token
    local = Path("instance/local_auth_token")
    if local.exists():
        return local.read_text().strip()
    raise SimulatorError("the server is not in local mode: pass --auth-token (its TWILIO_AUTH_TOKEN)")


def _print_new(events: list[dict[str, Any]], last: list[str]) -> None:
    for event in events:
        line = describe(event)
        if line is None:
            continue
        if last and last[0] == line:  # hold music loops: print it once
            continue
        last[:] = [line]
        print(f"{event['t']:7.2f}s  {line}", flush=True)


def server_record(base_url: str, token: str, sid: str) -> dict[str, Any]:
    """What the server recorded about the call (GET /voice/calls/<sid>/record, signed like Twilio signs)."""
    url = f"{base_url.rstrip('/')}/voice/calls/{sid}/record"
    response = requests.get(url, headers={"X-Twilio-Signature": sign(token, url, {})}, timeout=10)
    return response.json() if response.status_code == 200 else {}


def with_record(summary: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    return {**summary, "intent": record.get("intent"), "callback": record.get("callback_id"), "server": record}


def run_on_server(args: argparse.Namespace, body: dict[str, Any], cast: Cast) -> dict[str, Any]:
    """Let the local-mode server's simulator run the call; follow it by polling (the cast acts once it is answered)."""
    base = args.base_url.rstrip("/")
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {_token(args)}"  # the server's simulator answers its own token only
    created = http.post(f"{base}/sim/calls", json=body, timeout=10)
    if created.status_code != 201:
        raise SimulatorError(f"the server refused the call: {created.status_code} {created.text[:300]}")
    sid = created.json()["call_sid"]
    seen, last, acted = 0, [], []
    deadline = time.monotonic() + args.timeout
    while True:
        state = http.get(f"{base}/sim/calls/{sid}", params={"since": seen}, timeout=10).json()
        if not args.json:
            _print_new(state["events"], last)
        seen += len(state["events"])
        answered = next((e["client"] for e in state["events"] if e["kind"] == "bridged" and e.get("client")), None)
        if answered and not cast.idle and not acted:
            acted.append(cast.start(sid, answered, lambda line: None if args.json else print(f"         {line}", flush=True)))
        if state["ended"]:
            summary = http.get(f"{base}/sim/calls/{sid}", timeout=10).json()
            return with_record(summary, server_record(base, _token(args), sid))
        if time.monotonic() > deadline:
            http.post(f"{base}/sim/calls/{sid}/hangup", json={}, timeout=10)
            raise SimulatorError(f"call {sid} still running after {args.timeout} s; hung up")
        time.sleep(POLL_S)


def run_here(args: argparse.Namespace, body: dict[str, Any]) -> dict[str, Any]:
    """Run the call in this process, signing with the server's auth token."""
    token = _token(args)
    platform = Platform(args.base_url, token)
    call = platform.place_call(args.from_, args.to, script_from_json(body), timeout=args.timeout)
    if not args.json:
        _print_new(call.log, [])
    return with_record(call.summary(), server_record(args.base_url, token, call.sid))


def serve(args: argparse.Namespace) -> int:
    """Simulated Twilio in its own process: point the server's TWILIO_API_BASE_URL at <this>/sim/twilio."""
    from simulator.api import standalone_app

    standalone_app(args.server_url, args.auth_token, args.account_sid).run(host="127.0.0.1", port=args.port, threaded=True)
    return 0


def script_step(step: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """A command-line step as the simulator's JSON takes it (--say with its language and noise, --audio read here)."""
    if "say" in step:
        return dict(step, lang=args.lang, snr_db=args.snr, barge_in_s=args.barge_in)
    if "audio_file" in step:
        return {"audio": base64.b64encode(recording(step["audio_file"])).decode(), "name": step["audio_file"],
                "barge_in_s": args.barge_in}
    return step


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    try:
        steps = [script_step(step, args) for step in getattr(args, "steps", None) or []]
    except SimulatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    body = {"from": args.from_, "to": args.to, "steps": steps, "hold_s": args.hold, "talk_s": args.talk}
    try:
        try:
            # a local-mode server's simulator answers (401 without its token); any other server has no /sim
            local = requests.get(args.base_url.rstrip("/") + "/sim/", timeout=5).status_code in (200, 401)
        except requests.ConnectionError:
            raise SimulatorError(f"no server at {args.base_url}; start it with `make run`") from None
        cast = Cast(args.base_url, args.password, args.transfer, args.warm, args.monitor, args.after)
        if not local and not cast.idle:
            raise SimulatorError("--transfer and --monitor need a local-mode server (make run): its simulator rings the agents")
        summary = run_on_server(args, body, cast) if local else run_here(args, body)
    except SimulatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        for bookkeeping in ("events", "lines", "next"):
            summary.pop(bookkeeping, None)
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        print(f"call {summary['call_sid']}: {summary['status']}, outcome {summary['outcome']}"
              + (f", queue {summary['queue']}" if summary["queue"] else "") + (f", agent {summary['agent']}" if summary["agent"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
