"""``python -m bench`` (``make bench``): every benchmark of bench/, then one combined table.

Each module runs in its own process (``python -m bench.<module>``), prints its own report and
writes its ``bench/results/*.json``. A module that is missing, fails or writes nothing is a row
of the table saying so: nothing is skipped silently (and a failure makes the exit status 1).
The table takes from each results file its ``headline`` rows (``bench.headline.row``: measure,
value, baseline measured in the same run, ratio, goal, met) or, in their absence, its ``goals``;
a results file without a ``machine`` description gets one (``bench.machine``). The table and the
timings also go to ``bench/results/summary.json``.

    .venv/bin/python -m bench [module ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.headline import row
from bench.machine import describe

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
MODULES = ("bench_speech", "bench_routing", "webhook_load", "lock_latency", "backends", "compare")
BUDGET_S = 600  # make bench, whole, on the 2-core reference machine


def results_file(module: str) -> Path:
    """Where ``bench.<module>`` writes its figures: bench_routing → results/routing.json, compare → compare.json."""
    return RESULTS / f"{module.removeprefix('bench_')}.json"


def modified(path: Path) -> float | None:
    return path.stat().st_mtime if path.exists() else None


def run_module(name: str) -> dict[str, Any]:
    """Run ``bench.<name>`` in its own process; its exit status, time, and whether it wrote its results file."""
    if not (BENCH / f"{name}.py").exists():
        print(f"\n=== bench/{name}.py: missing", flush=True)
        return {"module": name, "status": "missing", "seconds": 0.0}
    print(f"\n=== python -m bench.{name}", flush=True)
    path = results_file(name)
    before = modified(path)
    started = time.perf_counter()
    code = subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=BENCH.parent, check=False).returncode
    seconds = round(time.perf_counter() - started, 1)
    wrote = modified(path) not in (None, before)
    status = f"failed (exit {code})" if code else "ok" if wrote else f"wrote no {path.relative_to(BENCH.parent)}"
    print(f"=== bench.{name}: {status} in {seconds} s", flush=True)
    return {"module": name, "status": status, "seconds": seconds}


def rows_of(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The headline rows of one results file, or rows made from its goals ({name: {p99_ms, limit_ms, met}})."""
    if "headline" in results:
        return results["headline"]
    return [
        row(f"p99 ms, {name}", goal.get("p99_ms"), goal=f"< {goal.get('limit_ms')} ms", met=goal.get("met"))
        for name, goal in results.get("goals", {}).items()
    ]


def collect(run: dict[str, Any], machine: dict[str, Any]) -> list[dict[str, Any]]:
    """Table rows for one module run; adds the machine description to files that lack one."""
    if run["status"] != "ok":
        return [{"benchmark": run["module"], **row(run["status"], None, met=False)}]
    path = results_file(run["module"])
    results = json.loads(path.read_text(encoding="utf-8"))
    if "machine" not in results:
        results["machine"] = machine
        path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    rows = rows_of(results) or [row(f"see {path.relative_to(BENCH.parent)}", None)]
    return [{"benchmark": run["module"], **r} for r in rows]


def cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def print_table(rows: list[dict[str, Any]]) -> None:
    header = ("benchmark", "measure", "value", "baseline (same run)", "ratio", "goal", "status")
    table = [
        (r["benchmark"], r["measure"], cell(r["value"]), cell(r["baseline"]), cell(r["ratio"]), cell(r["goal"]),
         "—" if r["met"] is None else "met" if r["met"] else "MISSED")
        for r in rows
    ]  # fmt: skip
    widths = [max(len(str(x)) for x in column) for column in zip(header, *table, strict=True)]
    for line in (header, tuple("-" * w for w in widths), *table):
        print("  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the benchmarks of bench/ and print one table.")
    parser.add_argument("modules", nargs="*", default=list(MODULES), help=f"default: {' '.join(MODULES)}")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    machine = describe()
    started = time.perf_counter()
    runs = [run_module(name) for name in args.modules]
    rows = [row for run in runs for row in collect(run, machine)]
    total = round(time.perf_counter() - started, 1)

    print(f"\n=== All benchmarks ({machine['cpu']}, {machine['cores']} cores, Python {machine['python']})")
    print_table(rows)
    timing = ", ".join(f"{run['module']} {run['seconds']} s" for run in runs)
    print(f"\ntotal {total} s ({timing}); budget {BUDGET_S} s: {'met' if total <= BUDGET_S else 'MISSED'}")
    summary = {"machine": machine, "seconds": total, "runs": runs, "rows": rows}
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if any(run["status"] not in ("ok", "missing") for run in runs):
        sys.exit(1)


if __name__ == "__main__":
    main()
