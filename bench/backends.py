"""PostgreSQL beside SQLite, and two nodes beside one, measured in the same run.

1. Routing dispatch: ``bench_routing.bench_store`` (a caller arrives, ``service.dispatch`` brings the indexes up to
   date, decides and writes the reservation in one transaction) on a SQLite file and on a PostgreSQL schema, the same
   seeded centers, p50 / p99 ms.
2. Webhook throughput: the app under gunicorn (``-w 2 -k gthread --threads 4``, as ``bench.webhook_load``) on SQLite
   and on PostgreSQL, both up side by side; wrk replays the same kinds of pre-signed requests (a new call, a menu
   step, status callbacks) at each in turn, rounds taking turns who goes first; median run and the median of the
   per-round ratios.
3. Nodes: on PostgreSQL, nginx with deploy/'s one-node upstreams in front of node A, and a second nginx with the
   two-node upstreams in front of nodes A and B (each its own gunicorn, instance folder and NODE_NAME, one schema);
   all up at once, wrk through each nginx in turn with twice the connections (16). Both nodes run on this machine's
   two cores, so this measures what a second node costs and whether the proxy spreads the load, not what a second
   machine would add.

PostgreSQL: ``DATABASE_URL``, else the server on 127.0.0.1:5432, else one started for the run (``harness.postgres``);
every database here is a schema of its own, dropped at the end.

    .venv/bin/python -m bench.backends [--duration 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from bench.bench_routing import bench_store
from bench.headline import row
from bench.machine import describe
from bench.webhook_load import (
    APP_CONFIG,
    ENDPOINTS,
    KINDS,
    STATUSES,
    created_calls,
    free_port,
    gunicorn,
    incoming,
    median_run,
    menu_step,
    render_prompts,
    rotated,
    status,
    wait_until_up,
    warm_up,
    wrk,
)
from harness import nginx
from harness import postgres as harness_postgres
from store.postgres import masked

RESULTS = Path(__file__).parent / "results" / "backends.json"
DISPATCH_SIZES = ((100, 100), (1_000, 1_000), (7_500, 1_000))
PUBLIC = "http://cc.bench.invalid"  # the URL the nodes behind nginx sign for (either nginx reaches them)
BLOCK = 10**6  # each server's calls have numbers of their own: server i uses i·BLOCK onwards


@contextmanager
def schemas(url: str) -> Iterator[Callable[[str], str]]:
    """A function giving a new, empty schema's URL per name; every one is dropped at the end."""
    made: list[str] = []
    run = secrets.token_hex(3)

    def new(name: str) -> str:
        made.append(f"bench_{run}_{name}")
        return harness_postgres.create_schema(url, made[-1])

    try:
        yield new
    finally:
        harness_postgres.drop_schemas(url, made)


def dispatch(new_schema: Callable[[str], str], rounds: int) -> list[dict[str, Any]]:
    """Dispatch p50 / p99 on SQLite and on PostgreSQL, the same seeded center of each size."""
    print("service.dispatch, one new caller per round (ms; 'first' builds the process's indexes)")
    print(f"{'agents':>7} {'waiting':>7} | {'SQLite p50':>10} {'p99':>7} | {'PostgreSQL p50':>14} {'p99':>7} | {'× p50':>6}")
    rows = []
    for agents_n, waiting_n in DISPATCH_SIZES:
        sqlite = bench_store(agents_n, waiting_n, rounds)
        postgres = bench_store(agents_n, waiting_n, rounds, new_schema(f"dispatch_{agents_n}_{waiting_n}"))
        rows.append({"agents": agents_n, "waiting": waiting_n, "sqlite": sqlite, "postgresql": postgres})
        print(
            f"{agents_n:>7} {waiting_n:>7} | {sqlite['p50_ms']:>10.3f} {sqlite['p99_ms']:>7.3f} | "
            f"{postgres['p50_ms']:>14.3f} {postgres['p99_ms']:>7.3f} | {postgres['p50_ms'] / sqlite['p50_ms']:>6.2f}"
        )
    return rows


def take_turns(
    targets: dict[str, str], calls_of: Callable[[int], list[str]], workdir: Path, duration_s: int, connections: int,
    rounds: int, incoming_n: int, public: str | None,
) -> dict[str, dict[str, list[dict[str, Any]]]]:  # fmt: skip
    """Per endpoint, ``rounds`` wrk runs at each target (name → URL), who goes first taking turns. Target i makes
    calls numbered from i·BLOCK; its menu steps and statuses go to the calls it made (``calls_of(i)``)."""
    names = list(targets)
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {kind: {name: [] for name in names} for kind in KINDS}

    made: dict[int, list[str]] = {}

    def requests_for(kind: str, turn: int, index: int) -> list:
        if kind == "incoming":
            first = index * BLOCK + turn * incoming_n
            return [incoming(n) for n in range(first, first + incoming_n)]
        if kind == "menu_step":
            return [menu_step(sid) for sid in rotated(made[index], turn, rounds)]
        return [status(sid, s) for s in STATUSES for sid in made[index][turn::rounds]]

    for kind in KINDS:
        if kind == "menu_step":  # after the incoming rounds: the calls they made
            made.update({i: calls_of(i) for i in range(len(names))})
        for turn in range(rounds):
            for name in names[turn % len(names) :] + names[: turn % len(names)]:
                requests = requests_for(kind, turn, names.index(name))
                runs[kind][name].append(wrk(targets[name], requests, workdir, duration_s, connections, public))
    return runs


def calls_in_block(database: str, rounds: int, incoming_n: int) -> Callable[[int], list[str]]:
    """The calls target i made during the incoming rounds (not the warm-up's), from the store they share."""

    def calls_of(index: int) -> list[str]:
        low, high = index * BLOCK, index * BLOCK + rounds * incoming_n
        return [sid for sid in created_calls(database) if low <= int(sid[2:], 16) < high]

    return calls_of


def summary(runs: dict[str, dict[str, list[dict[str, Any]]]], baseline: str) -> dict[str, Any]:
    """Per endpoint: each target's median run, the median of its per-round ratios to ``baseline`` (throughput, p99),
    and its errors over every run."""
    out = {}
    for kind, by_target in runs.items():
        base = by_target[baseline]
        out[kind] = {
            "median_run": {name: median_run(target_runs) for name, target_runs in by_target.items()},
            "rps_ratio": {name: round(statistics.median(v["rps"] / b["rps"] for v, b in zip(target_runs, base,
                                                                                            strict=True)), 3)
                          for name, target_runs in by_target.items() if name != baseline},
            "p99_ratio": {name: round(statistics.median(v["p99_ms"] / b["p99_ms"] for v, b in zip(target_runs, base,
                                                                                                 strict=True)), 3)
                          for name, target_runs in by_target.items() if name != baseline},
            "errors": {name: sum(run["errors"] for run in target_runs) for name, target_runs in by_target.items()},
            "all_runs": by_target,
        }  # fmt: skip
    return out


def asynchronous(url: str) -> str:
    """A schema URL (harness.postgres.schema_url) whose sessions commit without waiting for the WAL flush."""
    return url + "%20-csynchronous_commit%3Doff"


def backends_load(
    new_schema: Callable[[str], str], workdir: Path, prompts: Path, duration_s: int, connections: int, rounds: int,
    incoming_n: int,
) -> dict[str, Any]:  # fmt: skip
    """The app on SQLite, on PostgreSQL, and on PostgreSQL with ``synchronous_commit=off``, side by side, taking
    turns."""
    stores = {"sqlite": str(workdir / "sqlite" / "bench.db"), "postgresql": new_schema("webhooks"),
              "postgresql_async_commit": asynchronous(new_schema("webhooks_async"))}  # fmt: skip
    with ExitStack() as stack:
        targets = {}
        for name, database in stores.items():
            (workdir / name).mkdir()
            settings = {} if name == "sqlite" else {"DATABASE_URL": database}
            targets[name] = stack.enter_context(gunicorn("app:create_app()", workdir / name, prompts, APP_CONFIG,
                                                         **settings))  # fmt: skip
        warm_up(tuple(targets.values()), 3 * BLOCK)
        made = [calls_in_block(database, rounds, incoming_n) for database in stores.values()]
        runs = take_turns(targets, lambda i: made[i](i), workdir, duration_s, connections, rounds, incoming_n, None)
    return summary(runs, "sqlite")


@contextmanager
def behind_nginx(workdir: Path, sample: str, upstreams: dict[str, int]) -> Iterator[str]:
    """nginx with deploy/'s ``sample`` upstreams pointed at local ports; yields its URL."""
    folder = workdir / sample.removesuffix(".conf")
    folder.mkdir()
    port = free_port()
    proxy = nginx.start(folder, port, upstreams, sample)
    try:
        try:
            wait_until_up(f"http://127.0.0.1:{port}", proxy, folder / "nginx.out")
        except RuntimeError as exc:
            errors = (folder / "nginx-error.log").read_text(errors="replace").splitlines()
            raise RuntimeError(f"{exc}; nginx's error log ends:\n" + "\n".join(errors[-8:])) from exc
        yield f"http://127.0.0.1:{port}"
    finally:
        proxy.terminate()
        proxy.wait(10)


def nodes_load(
    database: str, workdir: Path, prompts: Path, duration_s: int, connections: int, rounds: int, incoming_n: int
) -> dict[str, Any]:
    """One node behind nginx against two nodes behind nginx, on one PostgreSQL schema, taking turns."""
    with ExitStack() as stack:
        ports = {}
        for node in ("a", "b"):
            folder = workdir / f"node-{node}"
            folder.mkdir()
            url = stack.enter_context(gunicorn(
                "app:create_app()", folder, prompts, APP_CONFIG, DATABASE_URL=database, PUBLIC_BASE_URL=PUBLIC,
                NODE_NAME=f"node-{node}", INSTANCE_DIR=str(folder / "instance"), TRUSTED_PROXIES="1"))  # fmt: skip
            ports[node] = int(url.rsplit(":", 1)[1])
        one = stack.enter_context(behind_nginx(workdir, "upstreams-one-node.conf",
                                               {"127.0.0.1:8000": ports["a"], "127.0.0.1:8001": ports["a"]}))
        two = stack.enter_context(behind_nginx(workdir, "upstreams-two-nodes.conf", {
            "10.0.0.11:8000": ports["a"], "10.0.0.11:8001": ports["a"],
            "10.0.0.12:8000": ports["b"], "10.0.0.12:8001": ports["b"]}))  # fmt: skip
        warm_up((one, two), 3 * BLOCK, public=PUBLIC)
        made = calls_in_block(database, rounds, incoming_n)
        runs = take_turns({"one_node": one, "two_nodes": two}, made, workdir, duration_s, connections, rounds,
                          incoming_n, PUBLIC)  # fmt: skip
        spread = nginx_spread(workdir / "upstreams-two-nodes" / "nginx-access.log")
        failed = {name: nginx_failures(workdir / f"upstreams-{name}" / "nginx-access.log")
                  for name in ("one-node", "two-nodes")}  # fmt: skip
    return {**summary(runs, "one_node"), "two_node_upstreams": spread, "non_2xx_seen_by_nginx": failed}


def nginx_spread(access_log: Path) -> dict[str, int]:
    """Requests per upstream address in an access log of harness.nginx's format."""
    return dict(Counter(line.rsplit(" ", 1)[-1] for line in access_log.read_text().splitlines()))


def nginx_failures(access_log: Path) -> dict[str, int]:
    """Answers other than 2xx in an access log of harness.nginx's format, by method, path, status and upstream (499:
    wrk closed the connection at the end of a run, not an answer anyone got)."""
    lines = (line.split(" ") for line in access_log.read_text().splitlines())
    return dict(Counter(" ".join(f) for f in lines if len(f) == 4 and not f[2].startswith("2") and f[2] != "499"))


def cell(endpoint: dict[str, Any], name: str, field: str, baseline: str) -> str:
    """A target's median-run figure, with its ratio to the baseline beside it."""
    value = endpoint["median_run"][name][field]
    ratio = endpoint[f"{field.removesuffix('_ms')}_ratio"]
    return f"{value:>22.1f}" + (f" ({ratio[name]:.2f}×)" if name != baseline else " " * 8)


def print_load(title: str, table: dict[str, Any], baseline: str) -> None:
    print(f"\n{title}")
    names = list(table[KINDS[0]]["median_run"])
    print(f"{'endpoint':<10} | " + " ".join(f"{name + ' req/s':>30}" for name in names) + " | "
          + " ".join(f"{name + ' p99 ms':>30}" for name in names) + " | errors")  # fmt: skip
    for kind in KINDS:
        e = table[kind]
        print(f"{kind:<10} | " + " ".join(cell(e, name, "rps", baseline) for name in names) + " | "
              + " ".join(cell(e, name, "p99_ms", baseline) for name in names) + " | "
              + " / ".join(str(e["errors"][name]) for name in names))  # fmt: skip
    print(f"(× : median over the rounds of the ratio to {baseline} within each round)")


def headline(dispatch_rows: list[dict[str, Any]], load: dict[str, Any], nodes: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for r in dispatch_rows:
        size = f"{r['agents']} agents × {r['waiting']} waiting"
        for cut in ("p50_ms", "p99_ms"):
            pg, sqlite = r["postgresql"][cut], r["sqlite"][cut]
            rows.append(row(f"dispatch {cut[:3]} ms on PostgreSQL vs SQLite, {size}", pg, sqlite,
                            ratio=round(pg / sqlite, 2)))  # fmt: skip
    variants = {"postgresql": "PostgreSQL", "postgresql_async_commit": "PostgreSQL, synchronous_commit=off"}
    for kind in KINDS:
        e = load[kind]
        for name, label in variants.items():
            rows.append(row(f"{kind} req/s on {label} vs SQLite", e["median_run"][name]["rps"],
                            e["median_run"]["sqlite"]["rps"], ratio=e["rps_ratio"][name]))  # fmt: skip
    for kind in KINDS:
        e = nodes[kind]
        rows.append(row(f"{kind} req/s, two nodes vs one (PostgreSQL, nginx, one 2-core machine)",
                        e["median_run"]["two_nodes"]["rps"], e["median_run"]["one_node"]["rps"],
                        ratio=e["rps_ratio"]["two_nodes"]))  # fmt: skip
    errors = sum(sum(table[kind]["errors"].values()) for table in (load, nodes) for kind in KINDS)
    rows.append(row("errors, every run of both loads", errors, goal="0", met=errors == 0))
    return rows


def run(duration_s: int, rounds: int, dispatch_rounds: int, incoming_n: int) -> dict[str, Any]:
    with (
        harness_postgres.server(os.environ.get("DATABASE_URL", "")) as url,
        schemas(url) as new_schema,
        tempfile.TemporaryDirectory() as tmp,
    ):
        started = time.perf_counter()
        dispatch_rows = dispatch(new_schema, dispatch_rounds)
        prompts = Path(tmp) / "prompts"
        build_error = render_prompts(prompts)
        load_dir, nodes_dir = Path(tmp) / "backends", Path(tmp) / "nodes"
        load_dir.mkdir()
        nodes_dir.mkdir()
        load = backends_load(new_schema, load_dir, prompts, duration_s, 8, rounds, incoming_n)
        print_load("Webhooks, one node (gunicorn -w 2 gthread ×4, wrk 8 connections): SQLite vs PostgreSQL", load,
                   "sqlite")  # fmt: skip
        nodes = nodes_load(new_schema("nodes"), nodes_dir, prompts, duration_s, 16, rounds, incoming_n)
        print_load("Webhooks on PostgreSQL through nginx (wrk 16 connections): one node vs two nodes", nodes,
                   "one_node")  # fmt: skip
        print(f"two-node nginx sent requests to: {nodes['two_node_upstreams']}")
        print(f"non-2xx answers nginx gave (499: wrk hung up): {nodes['non_2xx_seen_by_nginx']}")
        seconds = round(time.perf_counter() - started, 1)
    return {
        "machine": describe(),
        "seconds": seconds,
        "settings": {"duration_s": duration_s, "rounds": rounds, "dispatch_rounds": dispatch_rounds,
                     "postgresql": masked(url),
                     "prompts": "prebuilt" if build_error is None else f"rendered on first use ({build_error})"},
        "dispatch": dispatch_rows,
        "webhooks": load,
        "nodes": nodes,
        "headline": headline(dispatch_rows, load, nodes),
        "endpoints": ENDPOINTS,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=3, help="seconds of load per run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per endpoint (one run per target)")
    parser.add_argument("--dispatch-rounds", type=int, default=100, help="callers routed per center and backend")
    parser.add_argument("--incoming", type=int, default=8000, help="distinct new calls per incoming run")
    args = parser.parse_args()
    report = run(args.duration, args.rounds, args.dispatch_rounds, args.incoming)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS} in {report['seconds']} s")


if __name__ == "__main__":
    main()
