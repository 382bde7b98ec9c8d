"""Webhook load: the server under gunicorn beside Twilio's stateless sample IVR and a bare Flask "hello" app,
under the same settings, in the same run.

Servers, side by side on free loopback ports, all ``gunicorn -w 2 -k gthread --threads 4`` (one
worker per core of the benchmark machine; the README's production line has more of both for
bigger machines): the app (``app:create_app()`` with the project's ``gunicorn.conf.py``, whose
hook starts each worker's background threads; DATABASE_PATH in a temporary folder,
TWILIO_AUTH_TOKEN and PUBLIC_BASE_URL set), ``bench.sample_ivr`` (what TwilioDevEd's
ivr-phone-tree-python does: Gather and Say, nothing stored, no signature check) and
``bench.hello_app`` (answers "hello" on every path); the last two with an empty settings file.

Load: wrk (Debian) in its own process, 1 thread, 8 connections (one per server thread), latency
percentiles from wrk. Twilio signs every request (HMAC-SHA1 of URL + sorted parameters) and wrk
cannot compute one, so every request is made and signed beforehand, written to a file and
replayed by a small Lua script. Each request is distinct:

- ``POST /voice/incoming``: a new call each time (Twilio's usual parameters, 1,000 caller numbers);
- ``POST /voice/step/main_menu?attempt=1`` with ``Digits=4`` (opening hours) on calls created above;
- ``POST /voice/status``: initiated, ringing, in-progress, completed for each of those calls, so each applies.

Every fixed prompt is rendered beforehand (``flask prompts build``, as in production; if that fails
the servers render them on first use, during the warm-up, and the report says so). The other apps
get the very same requests. Each endpoint gets five rounds of a 4 s run per server, back to back,
the servers taking turns to go first. The machine is shared and noisy, so the ratios that count are
paired: app over sample (and over bare) within each round, and the median of those over the rounds;
the tables show each server's median run beside them. Errors count over every run. Goals (issue 16): incoming and menu step at
≥ 0.5× the sample's throughput, p99 ≤ 3× bare, no errors (status: against bare only). Then a profile (cProfile, in-process through Flask's test client,
same kinds of requests) shows where the app spends its time per request.

    .venv/bin/python -m bench.webhook_load [--duration 4] [--rounds 5] [--connections 8]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.headline import row
from bench.machine import describe
from store.db import connect
from wire.signature import sign

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "webhook_load.json"
TOKEN = "bench-" + "5" * 26
WORKERS, THREADS = 2, 4
RENDER_WAIT_S = 10
APP_CONFIG = ROOT / "gunicorn.conf.py"  # the server's own gunicorn settings (its hooks start background threads)
GOALS = {"sample_ratio_min": 0.5, "p99_ratio_max": 3.0, "errors": 0}
SERVERS = ("app", "sample", "bare")
ENDPOINTS = {
    "incoming": "POST /voice/incoming",
    "menu_step": "POST /voice/step/main_menu?attempt=1",
    "status": "POST /voice/status",
}
KINDS = tuple(ENDPOINTS)
STATUSES = ("initiated", "ringing", "in-progress", "completed")  # what Twilio sends with every status event asked for
OUR_CODE = ("core/", "services/", "voice/", "wire/", "telephony/", "ivr/", "store/", "routing/", "callbacks/", "web/", "app.py", "settings.py")
LUA = r"""
local reqs = {}
for line in io.lines(os.getenv("BENCH_REQUESTS")) do
  local path, body, signature = line:match("([^\t]*)\t([^\t]*)\t([^\t]*)")
  reqs[#reqs + 1] = {path, body, signature}
end
local i = 0
request = function()
  i = i + 1
  local r = reqs[(i - 1) % #reqs + 1]
  return wrk.format("POST", r[1], {["Content-Type"] = "application/x-www-form-urlencoded",
                                   ["X-Twilio-Signature"] = r[3]}, r[2])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
    .. '"max_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, "replayed": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout, #reqs))
end
"""


@dataclass(frozen=True)
class Request:
    path: str  # with its query string
    params: dict[str, str]

    def line(self, base_url: str) -> str:
        """path, form body and X-Twilio-Signature, tab-separated (the replay file's format)."""
        return "\t".join((self.path, urlencode(self.params), sign(TOKEN, base_url + self.path, self.params)))


def call_sid(n: int) -> str:
    return f"CA{n:032x}"


def incoming(n: int) -> Request:
    number = f"+1202555{n % 1000:04d}"
    return Request(
        "/voice/incoming",
        {
            "AccountSid": "AC" + "0" * 32,
            "ApiVersion": "2010-04-01",
            "CallSid": call_sid(n),
            "CallStatus": "ringing",
            "Called": "+15005550006",
            "Caller": number,
            "Direction": "inbound",
            "From": number,
            "FromCountry": "US",
            "To": "+15005550006",
            "ToCountry": "US",
        },
    )


def menu_step(sid: str) -> Request:
    return Request("/voice/step/main_menu?attempt=1", {"AccountSid": "AC" + "0" * 32, "CallSid": sid, "Digits": "4"})


def status(sid: str, call_status: str) -> Request:
    return Request(
        "/voice/status",
        {"AccountSid": "AC" + "0" * 32, "CallSid": sid, "CallStatus": call_status, "CallDuration": "42"},
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render_prompts(folder: Path) -> str | None:
    """Every fixed prompt rendered ahead of time, as the README has production do (``flask prompts build``).
    Returns why it failed, if it did: then the servers render the prompts on first use, during the warm-up."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DATABASE_PATH": str(folder / "prompts.db"), "PROMPT_CACHE_DIR": str(folder)}
    flask = str(Path(sys.executable).with_name("flask"))
    done = subprocess.run(
        [flask, "--app", "app", "prompts", "build"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    return None if done.returncode == 0 else (done.stderr.strip().splitlines() or ["no output"])[-1][:200]


@contextmanager
def gunicorn(target: str, workdir: Path, prompts: Path, config: Path, **settings: str) -> Iterator[str]:
    """Serve ``target`` under gunicorn on a free port with the settings file ``config`` (and the center's
    ``settings``); yields the base URL."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_PATH": str(workdir / "bench.db"),
        "PROMPT_CACHE_DIR": str(prompts),
        "TWILIO_AUTH_TOKEN": TOKEN,
        "PUBLIC_BASE_URL": base_url,
        "OPENING_HOURS": "mon-sun 00:00-24:00",  # the open path (the menu), like the sample IVR, at any hour
        **settings,
    }
    command = [str(Path(sys.executable).with_name("gunicorn")), "-w", str(WORKERS), "-k", "gthread"]
    command += ["--threads", str(THREADS), "-b", f"127.0.0.1:{port}", "--log-level", "warning", "-c", str(config)]
    command.append(target)
    log_path = workdir / f"gunicorn-{port}.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_up(base_url, proc, log_path)
            yield base_url
        finally:
            proc.terminate()
            proc.wait(30)


def wait_until_up(base_url: str, proc: subprocess.Popen, log_path: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
            raise RuntimeError(f"gunicorn exited with {proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(base_url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{base_url} did not come up in {timeout_s:g} s")


def post(base_url: str, request: Request, public: str | None = None) -> int:
    """One signed request (signed for ``public``, the URL the server believes it is at, else ``base_url``)."""
    data = urlencode(request.params).encode()
    signature = sign(TOKEN, (public or base_url) + request.path, request.params)
    req = urllib.request.Request(base_url + request.path, data=data, headers={"X-Twilio-Signature": signature})
    with urllib.request.urlopen(req, timeout=10) as response:
        return response.status


def wrk(
    base_url: str, requests: Sequence[Request], workdir: Path, duration_s: int, connections: int, public: str | None = None
) -> dict[str, Any]:
    """Replay the requests (signed for ``public``, else ``base_url``) with wrk for ``duration_s``; throughput, latency
    percentiles (ms) and errors."""
    replay = workdir / "requests.tsv"
    replay.write_text("".join(r.line(public or base_url) + "\n" for r in requests))
    script = workdir / "replay.lua"
    script.write_text(LUA)
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration_s}s", "--timeout", "10s", "-s", str(script), base_url]
    out = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "BENCH_REQUESTS": str(replay)}, check=True
    )
    line = next(line for line in out.stdout.splitlines() if line.startswith("BENCH "))
    raw = json.loads(line.removeprefix("BENCH "))
    errors = raw["connect"] + raw["read"] + raw["write"] + raw["status"] + raw["timeout"]
    return {
        "requests": raw["requests"],
        "rps": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "errors": errors,
        "non_2xx": raw["status"],
        "distinct_requests": raw["replayed"],
        "replayed_twice": raw["requests"] > raw["replayed"],
    }


def created_calls(database: str) -> list[str]:
    """The call sids in the store (a SQLite file or a PostgreSQL URL)."""
    db = connect(database)
    try:
        return [row["sid"] for row in db.query("SELECT sid FROM calls ORDER BY sid")]
    finally:
        db.conn.close()


def warm_up(urls: Sequence[str], first: int, calls: int = 100, public: str | None = None) -> None:
    """Every code path once per call on every server: imports, caches, SQLite pages, prompts queued for rendering."""
    for n in range(first, first + calls):
        for request in (incoming(n), menu_step(call_sid(n)), status(call_sid(n), "completed")):
            for url in urls:
                post(url, request, public)


def load(
    workdir: Path, prompts: Path, prebuilt: bool, duration_s: int, connections: int, rounds: int, incoming_n: int
) -> dict[str, Any]:
    """Both servers up side by side; per endpoint, ``rounds`` runs of each on the same requests, taking turns who goes
    first. Menu steps and statuses go to calls the app created (the bare app gets the same requests)."""
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {kind: {name: [] for name in SERVERS} for kind in KINDS}
    for name in SERVERS:
        (workdir / name).mkdir()
    plain = workdir / "plain.conf.py"  # no hooks (the server's would start its threads)
    plain.write_text("")
    with (
        gunicorn("app:create_app()", workdir / "app", prompts, APP_CONFIG) as app_url,
        gunicorn("bench.sample_ivr:create_app()", workdir / "sample", prompts, plain) as sample_url,
        gunicorn("bench.hello_app:create_app()", workdir / "bare", prompts, plain) as bare_url,
    ):
        urls = {"app": app_url, "sample": sample_url, "bare": bare_url}
        warm_up(tuple(urls.values()), rounds * incoming_n)
        if not prebuilt:  # the workers' embedded job runners render the prompts the warm-up asked for
            time.sleep(RENDER_WAIT_S)
            warm_up(tuple(urls.values()), rounds * incoming_n + 1000)

        def both(kind: str, turn: int, requests: list[Request]) -> None:
            order = SERVERS[turn % len(SERVERS) :] + SERVERS[: turn % len(SERVERS)]  # who goes first takes turns
            for name in order:
                runs[kind][name].append(wrk(urls[name], requests, workdir, duration_s, connections))

        for turn in range(rounds):
            both("incoming", turn, [incoming(n) for n in range(turn * incoming_n, (turn + 1) * incoming_n)])
        sids = [sid for sid in created_calls(str(workdir / "app" / "bench.db")) if int(sid[2:], 16) < rounds * incoming_n]
        for turn in range(rounds):
            both("menu_step", turn, [menu_step(sid) for sid in rotated(sids, turn, rounds)])
        for turn in range(rounds):
            both("status", turn, [status(sid, s) for s in STATUSES for sid in sids[turn::rounds]])
    return runs


def rotated(items: list[str], turn: int, rounds: int) -> list[str]:
    """The calls of round ``turn`` of ``rounds``: every round starts on calls that have not had a step yet."""
    start = turn * len(items) // rounds
    return items[start:] + items[:start]


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median throughput (an odd number of rounds has one)."""
    return sorted(runs, key=lambda run: run["rps"])[(len(runs) - 1) // 2]


def paired(runs: dict[str, list[dict[str, Any]]], field: str, over: str) -> float:
    """Median over the rounds of app ÷ ``over`` on ``field``, each ratio taken within one round."""
    return statistics.median(a[field] / o[field] for a, o in zip(runs["app"], runs[over], strict=True))


def verdict(kind: str, runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The goals of one endpoint: throughput against the sample (not for status), p99 against bare, no errors in
    any run."""
    sample_ratio = paired(runs, "rps", "sample")
    p99 = paired(runs, "p99_ms", "bare")
    errors = sum(run["errors"] for run in runs["app"])
    throughput_met = kind == "status" or sample_ratio >= GOALS["sample_ratio_min"]
    return {
        "sample_ratio": round(sample_ratio, 3),
        "bare_ratio": round(paired(runs, "rps", "bare"), 3),
        "p99_ratio": round(p99, 3),
        "sample_ratio_per_round": [
            round(a["rps"] / s["rps"], 3) for a, s in zip(runs["app"], runs["sample"], strict=True)
        ],
        "errors_all_runs": errors,
        "met": throughput_met and p99 <= GOALS["p99_ratio_max"] and errors == 0,
    }


# Profile


def profile(prompts: Path, requests_per_kind: int, top: int = 15) -> dict[str, Any]:
    """The app in-process (Flask test client, no HTTP server), same kinds of requests: µs per request timed without
    the profiler, then where the time goes under cProfile (on other calls of the same kinds)."""
    from app import create_app
    from bench.hello_app import create_app as create_hello

    base = "http://localhost"
    with tempfile.TemporaryDirectory() as tmp:
        config = {
            "DATABASE_PATH": f"{tmp}/profile.db",
            "PROMPT_CACHE_DIR": str(prompts),
            "TWILIO_AUTH_TOKEN": TOKEN,
            "PUBLIC_BASE_URL": base,
        }
        client = create_app(config).test_client()
        # Under gunicorn each worker's routing ticker keeps a connection open, so a request closing its own is not
        # the last one (the last one to close checkpoints the WAL): keep one open here too.
        ticker_connection = sqlite3.connect(config["DATABASE_PATH"])
        ticker_connection.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opens the WAL index
        timed_sids = [call_sid(10**6 + n) for n in range(requests_per_kind)]
        profiled_sids = [call_sid(2 * 10**6 + n) for n in range(requests_per_kind)]

        def batch(kind: str, sids: list[str]) -> list[Request]:
            if kind == "incoming":
                return [incoming(int(sid[2:], 16)) for sid in sids]
            return (
                [menu_step(sid) for sid in sids] if kind == "menu_step" else [status(sid, "completed") for sid in sids]
            )

        def send(client: Any, requests: list[Request]) -> float:
            prepared = [
                (r.path, r.params, {"X-Twilio-Signature": sign(TOKEN, base + r.path, r.params)}) for r in requests
            ]
            started = time.perf_counter()
            for path, params, headers in prepared:
                response = client.post(path, data=params, headers=headers)
                if response.status_code >= 400:
                    raise RuntimeError(f"{path}: {response.status_code} {response.get_data(as_text=True)[:200]}")
            return (time.perf_counter() - started) / len(prepared) * 1e6

        per_request_us = {}
        hot: dict[str, Any] = {}
        for kind in ("incoming", "menu_step", "status"):
            per_request_us[kind] = round(send(client, batch(kind, timed_sids)))
            profiler = cProfile.Profile()
            profiler.enable()
            send(client, batch(kind, profiled_sids))
            profiler.disable()
            hot[kind] = hot_spots(pstats.Stats(profiler), requests_per_kind, top)
        per_request_us["bare_hello"] = round(send(create_hello().test_client(), batch("incoming", timed_sids)))
        ticker_connection.close()
    return {"per_request_us": per_request_us, "hot_spots": hot}


def hot_spots(stats: pstats.Stats, requests: int, top: int) -> list[dict[str, Any]]:
    """Our functions (and the libraries they call) by cumulative time per request, profiler overhead included."""
    rows = []
    entries = stats.stats.items()  # type: ignore[attr-defined]
    for (filename, line, function), (_, calls, _tottime, cumtime, _) in entries:
        relative = os.path.relpath(filename, ROOT) if filename.startswith(str(ROOT)) else filename
        if relative.startswith(OUR_CODE) or "sqlite3" in function or "execute" in function:
            rows.append(
                {
                    "function": f"{relative}:{line}({function})",
                    "calls_per_request": round(calls / requests, 2),
                    "cum_us_per_request": round(cumtime / requests * 1e6),
                }
            )
    rows.sort(key=lambda row: -row["cum_us_per_request"])
    return rows[:top]


def run(
    duration_s: int = 4, connections: int = 8, rounds: int = 5, incoming_n: int = 20_000, profile_n: int = 500
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        prompts = Path(tmp) / "prompts"
        build_error = render_prompts(prompts)
        runs = load(Path(tmp), prompts, build_error is None, duration_s, connections, rounds, incoming_n)
        hot = profile(prompts, profile_n)
    endpoints = {}
    for kind, runs_of in runs.items():
        medians = {name: median_run(runs_of[name]) for name in SERVERS}
        endpoints[kind] = {**medians, **verdict(kind, runs_of), "all_runs": runs_of}
    headline = [
        row(f"{name} req/s vs the sample IVR", e["app"]["rps"], e["sample"]["rps"], ratio=e["sample_ratio"],
            goal="≥ 0.5×", met=e["sample_ratio"] >= GOALS["sample_ratio_min"])
        for name, e in endpoints.items() if name != "status"
    ] + [
        row(f"{name} req/s vs bare Flask", e["app"]["rps"], e["bare"]["rps"], ratio=e["bare_ratio"])
        for name, e in endpoints.items()
    ] + [
        row(f"{name} p99 ms vs bare Flask", e["app"]["p99_ms"], e["bare"]["p99_ms"], ratio=e["p99_ratio"], goal="≤ 3×",
            met=e["p99_ratio"] <= GOALS["p99_ratio_max"])
        for name, e in endpoints.items()
    ] + [
        row(f"{name} errors, all runs", e["errors_all_runs"], sum(r["errors"] for r in e["all_runs"]["bare"]), goal="0",
            met=e["errors_all_runs"] == 0)
        for name, e in endpoints.items()
    ]  # fmt: skip
    return {
        "machine": describe(),
        "settings": {
            "workers": WORKERS,
            "threads": THREADS,
            "worker_class": "gthread",
            "connections": connections,
            "duration_s": duration_s,
            "rounds": rounds,
            "load": "wrk, 1 thread, replayed pre-signed requests; ratios are medians of per-round pairs",
            "prompts": "prebuilt"
            if build_error is None
            else f"rendered on first use (prompts build failed: {build_error})",
        },
        "endpoints": endpoints,
        "profile": hot,
        "headline": headline,
    }


def markdown(report: dict[str, Any]) -> str:
    """The README table: the app beside the sample IVR and the bare app, same gunicorn settings, same run."""
    lines = [
        "| Endpoint (gunicorn -w 2 gthread ×4, wrk 8 conn.) | req/s app | sample IVR | × sample¹ | bare | × bare¹ | "
        "p99 ms app | p99 bare | × | errors |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, e in report["endpoints"].items():
        a, s, b = e["app"], e["sample"], e["bare"]
        lines.append(
            f"| `{ENDPOINTS[name]}` | {a['rps']:.0f} | {s['rps']:.0f} | {e['sample_ratio']:.2f} | {b['rps']:.0f} | "
            f"{e['bare_ratio']:.2f} | {a['p99_ms']:.1f} | {b['p99_ms']:.1f} | {e['p99_ratio']:.1f} | {e['errors_all_runs']} |"
        )
    rounds = report["settings"]["rounds"]
    lines.append(
        f"\n¹ median over {rounds} rounds of the ratio within each round; req/s and p99 columns: each server's median run"
    )
    return "\n".join(lines)


def print_report(report: dict[str, Any]) -> None:
    settings = report["settings"]
    print(
        f"Webhook load: gunicorn -w {WORKERS} -k gthread --threads {THREADS}, wrk {settings['connections']} "
        f"connections, {settings['rounds']} rounds of {settings['duration_s']} s per endpoint and server (median run shown, "
        f"ratios: median of per-round pairs); "
        f"app vs the sample IVR and bare Flask hello, same run; prompts {settings['prompts']}"
    )
    print(
        f"{'endpoint':<10} | {'app req/s':>9} {'sample':>7} {'×':>5} {'bare':>7} {'×':>5} | {'app p50':>7} {'p99 ms':>7} "
        f"{'bare p99':>8} {'×':>5} | {'errors':>6} | goal"
    )
    for name, e in report["endpoints"].items():
        a, s, b = e["app"], e["sample"], e["bare"]
        print(
            f"{name:<10} | {a['rps']:>9.0f} {s['rps']:>7.0f} {e['sample_ratio']:>5.2f} {b['rps']:>7.0f} "
            f"{e['bare_ratio']:>5.2f} | {a['p50_ms']:>7.2f} "
            f"{a['p99_ms']:>7.2f} {b['p99_ms']:>8.2f} {e['p99_ratio']:>5.2f} | {e['errors_all_runs']:>6} | "
            f"{'met' if e['met'] else 'MISSED'}{' (requests replayed twice)' if a['replayed_twice'] else ''}"
        )
    prof = report["profile"]
    print(
        "\nIn-process µs per request (Flask test client, no HTTP server, no profiler): "
        + ", ".join(f"{k} {v}" for k, v in prof["per_request_us"].items())
    )
    for name, rows in prof["hot_spots"].items():
        print(f"\nhot spots, {name} (cumulative µs per request):")
        for spot in rows:
            print(f"  {spot['cum_us_per_request']:>6}  ×{spot['calls_per_request']:<5} {spot['function']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=4, help="seconds of load per run")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per endpoint (one run per server), taking turns")
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    report = run(args.duration, args.connections, args.rounds)
    report["markdown"] = markdown(report)
    print_report(report)
    print("\n" + report["markdown"])
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
