"""What skills routing and callbacks buy, on the same callers, and the day simulator against Erlang C and A.

Every variant lives the same ``SEEDS`` days (same arrivals, talk times, patience and answers to
offers: see ``bench.daysim``), and figures are pooled over those days. Sections:

1. Validation: one queue of 10 erlangs (200 calls/h × 180 s, exponential), 12–17 agents, six
   independent 50 h runs each: simulated service level (mean ± standard error) against Erlang C,
   and with 120 s exponential patience against Erlang A.
2. Routing: the ``bench.scenarios.center`` day at load 0.85 and 0.95, FIFO (``daysim.fifo``) vs
   skills routing for the same staff, with and without the proficiency assumption.
3. Callbacks: skills routing, no callbacks vs ``VirtualHold`` offered above the server's default
   ``CALLBACK_OFFER_AFTER_S`` (60 s), at 0.85 and 0.95; goal: abandonment cut at least in half.
4. The offer threshold (0–480 s) and the share of callers who accept an offer (0.3–0.9).
5. The same day on ``routing.service`` + SQLite (the store backend): identical figures, and its cost.

Plots go to ``docs/daysim_*.png``; figures to ``bench/results/compare.json``.

    .venv/bin/python -m bench.compare
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure  # the object API draws with Agg, no display or pyplot state

import settings
from bench.daysim import CallbackPolicy, Callers, DayReport, Figures, Scenario, VirtualHold, fifo, simulate
from bench.headline import row
from bench.machine import describe
from bench.scenarios import center, single_queue
from routing.erlang import erlang_a, erlang_c

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
RESULTS = ROOT / "bench" / "results" / "compare.json"
SEEDS = tuple(range(1, 9))
LOADS = (0.85, 0.95)
OFFER_AFTER_S = settings.BY_NAME["CALLBACK_OFFER_AFTER_S"].default
THRESHOLDS = (0, 15, 30, 60, 120, 240, 480)
ACCEPTANCE = (0.3, 0.5, 0.7, 0.9)
VALIDATION_AGENTS = range(12, 18)
VALIDATION_HOURS = 50
VALIDATION_SEEDS = tuple(range(101, 107))  # 6 independent runs per point
PATIENCE_S = 120


class Pooled:
    """A variant's figures summed over the same days."""

    def __init__(self, reports: Iterable[DayReport]) -> None:
        self.days = list(reports)
        self.total = Figures()
        for report in self.days:
            self.total.add(report.total)
        self.occupancy = sum(r.working_s for r in self.days) / sum(r.staffed_s for r in self.days)

    def row(self) -> dict[str, Any]:
        t = self.total
        return {
            "offered": t.offered,
            "service_level": _round(t.service_level),
            "asa_s": _round(t.asa_s, 1),
            "abandonment": _round(t.abandonment),
            "lost": _round(t.lost),
            "mean_hold_s": _round(t.mean_hold_s, 1),
            "occupancy": _round(self.occupancy),
            "callbacks_accepted": t.callbacks_accepted,
            "callbacks_completed": t.callbacks_completed,
            "callbacks_failed": t.callbacks_failed,
            "callback_delay_s": _round(t.callback_delay_s, 1),
            "unserved": t.unserved,
        }

    def days_better(self, baseline: Pooled, measure: str) -> int:
        """Days on which this variant had a lower ``measure`` than ``baseline`` (paired by seed)."""
        return sum(
            getattr(a.total, measure) < getattr(b.total, measure) for a, b in zip(self.days, baseline.days, strict=True)
        )


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def pooled(scenario: Scenario, policy: CallbackPolicy | None = None, backend: str = "core") -> Pooled:
    return Pooled(simulate(scenario, seed, policy=policy, backend=backend) for seed in SEEDS)


# 1. Validation


def _mean_and_error(values: list[float]) -> tuple[float, float]:
    """Mean and its standard error over independent runs."""
    return statistics.mean(values), statistics.stdev(values) / math.sqrt(len(values))


def validation() -> dict[str, Any]:
    rows = []
    for agents in VALIDATION_AGENTS:
        c = erlang_c(agents, 10, 180, 20)
        a = erlang_a(agents, 10, 180, 20, PATIENCE_S)
        runs_c = [simulate(single_queue(200, 180, agents, VALIDATION_HOURS), seed).total for seed in VALIDATION_SEEDS]
        runs_a = [
            simulate(single_queue(200, 180, agents, VALIDATION_HOURS, patience_s=PATIENCE_S), seed).total
            for seed in VALIDATION_SEEDS
        ]
        sl, sl_se = _mean_and_error([r.service_level for r in runs_c])
        asa, asa_se = _mean_and_error([r.asa_s for r in runs_c])
        sl_a, sl_a_se = _mean_and_error([r.service_level for r in runs_a])
        abandon, abandon_se = _mean_and_error([r.abandonment for r in runs_a])
        rows.append(
            {
                "agents": agents,
                "erlang_c_sl": round(c.service_level, 4),
                "sim_sl": round(sl, 4),
                "sim_sl_se": round(sl_se, 4),
                "erlang_c_asa_s": round(c.asa_s, 2),
                "sim_asa_s": round(asa, 2),
                "sim_asa_se": round(asa_se, 2),
                "erlang_a_sl": round(a.service_level, 4),
                "sim_a_sl": round(sl_a, 4),
                "sim_a_sl_se": round(sl_a_se, 4),
                "erlang_a_abandon": round(a.p_abandon, 4),
                "sim_a_abandon": round(abandon, 4),
                "sim_a_abandon_se": round(abandon_se, 4),
            }
        )
    _plot_validation(rows)
    worst = max(abs(r["sim_sl"] - r["erlang_c_sl"]) for r in rows)
    return {"runs_per_point": len(VALIDATION_SEEDS), "hours_per_run": VALIDATION_HOURS, "rows": rows,
            "worst_sl_gap": round(worst, 4)}  # fmt: skip


def _plot_validation(rows: list[dict[str, Any]]) -> None:
    fig = Figure(figsize=(10, 4))
    left, right = fig.subplots(1, 2)
    agents = [r["agents"] for r in rows]
    bars = {"capsize": 3, "linestyle": "none"}
    left.plot(agents, [r["erlang_c_sl"] for r in rows], "-", label="Erlang C")
    left.errorbar(agents, [r["sim_sl"] for r in rows], [2 * r["sim_sl_se"] for r in rows], marker="o", **bars,
                  label="simulated, no abandonment (±2 SE)")  # fmt: skip
    left.plot(agents, [r["erlang_a_sl"] for r in rows], "--", label=f"Erlang A (patience {PATIENCE_S} s)")
    left.errorbar(agents, [r["sim_a_sl"] for r in rows], [2 * r["sim_a_sl_se"] for r in rows], marker="s", **bars,
                  label="simulated, with abandonment")  # fmt: skip
    left.set(xlabel="agents", ylabel="service level (20 s)", title="10 erlangs: 200 calls/h × 180 s")
    left.legend(fontsize=8)
    right.plot(agents, [r["erlang_a_abandon"] for r in rows], "--", label="Erlang A")
    right.errorbar(agents, [r["sim_a_abandon"] for r in rows], [2 * r["sim_a_abandon_se"] for r in rows], marker="s",
                   **bars, label="simulated (±2 SE)")  # fmt: skip
    right.set(xlabel="agents", ylabel="abandonment", title=f"Abandonment, exponential patience {PATIENCE_S} s")
    right.legend(fontsize=8)
    _save(fig, "daysim_erlang.png")


# 2. Routing


def routing() -> dict[str, Any]:
    results: dict[str, Any] = {}
    for load in LOADS:
        for proficiency in (True, False):
            scenario = center(load, proficiency=proficiency)
            skills, plain = pooled(scenario), pooled(fifo(scenario))
            key = f"load {load} {'proficiency' if proficiency else 'equal talk times'}"
            results[key] = {
                "skills": skills.row(),
                "fifo": plain.row(),
                "days_skills_abandon_less": skills.days_better(plain, "abandonment"),
            }
    fig = Figure(figsize=(10, 4))
    axes = fig.subplots(1, 2)
    labels = list(results)
    x = range(len(labels))
    for ax, measure, title in ((axes[0], "service_level", "service level"), (axes[1], "abandonment", "abandonment")):
        ax.bar([i - 0.2 for i in x], [results[k]["fifo"][measure] for k in labels], 0.4, label="FIFO")
        ax.bar([i + 0.2 for i in x], [results[k]["skills"][measure] for k in labels], 0.4, label="skills routing")
        ax.set_xticks(list(x), [k.replace(" ", "\n", 2) for k in labels], fontsize=7)
        ax.set_title(f"{title}, same staff and callers ({len(SEEDS)} days)")
        ax.legend(fontsize=8)
    _save(fig, "daysim_routing.png")
    return results


# 3 and 4. Callbacks


def callbacks() -> dict[str, Any]:
    results: dict[str, Any] = {"offer_after_s": OFFER_AFTER_S, "loads": {}, "threshold": {}, "acceptance": {}}
    for load in LOADS:
        scenario = center(load)
        none = pooled(scenario)
        offered = pooled(scenario, VirtualHold(OFFER_AFTER_S))
        ratio = offered.total.abandonment / none.total.abandonment
        results["loads"][str(load)] = {
            "none": none.row(),
            "callbacks": offered.row(),
            "abandonment_ratio": round(ratio, 3),
            "days_callbacks_abandon_less": offered.days_better(none, "abandonment"),
            "met": ratio <= 0.5,
        }
        results["threshold"][str(load)] = {
            "none": none.row(),
            **{str(s): pooled(scenario, VirtualHold(s)).row() for s in THRESHOLDS},
        }
        results["acceptance"][str(load)] = {
            str(p): pooled(replace(scenario, callers=Callers(accept_p=p)), VirtualHold(OFFER_AFTER_S)).row()
            for p in ACCEPTANCE
        }
    _plot_callbacks(results)
    return results


def _plot_callbacks(results: dict[str, Any]) -> None:
    fig = Figure(figsize=(14, 4))
    axes = fig.subplots(1, 3)
    for load, sweep in results["threshold"].items():
        thresholds = list(THRESHOLDS)
        axes[0].plot(thresholds, [sweep[str(s)]["abandonment"] for s in thresholds], "o-", label=f"load {load}")
        axes[0].axhline(sweep["none"]["abandonment"], linestyle=":", color=axes[0].lines[-1].get_color())
        axes[1].plot(thresholds, [sweep[str(s)]["callback_delay_s"] for s in thresholds], "o-", label=f"load {load}")
        axes[2].plot(
            list(ACCEPTANCE),
            [results["acceptance"][load][str(p)]["abandonment"] for p in ACCEPTANCE],
            "o-",
            label=f"load {load}",
        )
        axes[2].axhline(sweep["none"]["abandonment"] / 2, linestyle=":", color=axes[2].lines[-1].get_color())
    axes[0].set(xlabel="offer when the estimated wait exceeds (s)", ylabel="abandonment", title="Offer threshold")
    axes[0].text(0.02, 0.02, "dotted: no callbacks", transform=axes[0].transAxes, fontsize=8)
    axes[1].set(xlabel="offer when the estimated wait exceeds (s)", ylabel="s", title="Callback delay (from entry)")
    axes[2].set(
        xlabel="share of offers accepted", ylabel="abandonment", title=f"Acceptance (offer above {OFFER_AFTER_S} s)"
    )
    axes[2].text(0.02, 0.02, "dotted: half the abandonment without callbacks", transform=axes[2].transAxes, fontsize=8)
    for ax in axes:
        ax.legend(fontsize=8)
    _save(fig, "daysim_callbacks.png")


# 5. The store backend


def store_backend() -> dict[str, Any]:
    """One center day with callbacks through routing.service on SQLite, beside the same day on the core."""
    scenario, policy, seed = center(0.85), VirtualHold(OFFER_AFTER_S), SEEDS[0]
    timings, summaries = {}, {}
    for backend in ("core", "store"):
        started = time.perf_counter()
        report = simulate(scenario, seed, policy=policy, backend=backend)
        timings[backend] = time.perf_counter() - started
        summaries[backend] = report.summary()
    return {
        "identical": summaries["core"] == summaries["store"],
        "events": summaries["core"]["events"],
        "core_s": round(timings["core"], 2),
        "store_s": round(timings["store"], 2),
        "store_ms_per_event": round(timings["store"] / summaries["store"]["events"] * 1000, 3),
    }


def _save(fig: Figure, name: str) -> None:
    DOCS.mkdir(exist_ok=True)
    fig.tight_layout()
    fig.savefig(DOCS / name, dpi=110)


# Report


def run() -> dict[str, Any]:
    started = time.perf_counter()
    report: dict[str, Any] = {"machine": describe(), "seeds": list(SEEDS)}
    report["validation"] = validation()
    report["routing"] = routing()
    report["callbacks"] = callbacks()
    report["store_backend"] = store_backend()
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["headline"] = headline(report)
    report["markdown"] = markdown(report)
    return report


def headline(report: dict[str, Any]) -> list[dict[str, Any]]:
    at14 = next(r for r in report["validation"]["rows"] if r["agents"] == 14)
    gap = abs(at14["sim_sl"] - at14["erlang_c_sl"])
    rows = [
        row("sim SL vs Erlang C (10 E, 14 agents)", at14["sim_sl"], at14["erlang_c_sl"], goal="±0.02", met=gap <= 0.02)
    ]
    for load in LOADS:
        skills, plain = (report["routing"][f"load {load} proficiency"][k]["service_level"] for k in ("skills", "fifo"))
        rows.append(row(f"skills vs FIFO SL, load {load}", skills, plain, ratio=round(skills / plain, 3)))
    for load in LOADS:
        c = report["callbacks"]["loads"][str(load)]
        rows.append(
            row(f"abandonment with callbacks, load {load}", c["callbacks"]["abandonment"], c["none"]["abandonment"],
                ratio=c["abandonment_ratio"], goal="≤ 0.5×", met=c["met"])
        )  # fmt: skip
    store = report["store_backend"]
    rows.append(
        row("store backend day = core day (s)", store["store_s"], store["core_s"],
            ratio=round(store["store_s"] / store["core_s"], 1), goal="identical", met=store["identical"])
    )  # fmt: skip
    return rows


def markdown(report: dict[str, Any]) -> str:
    """The README table: each variant beside its baseline, on the same callers."""
    lines = [
        f"| Day ({len(SEEDS)} days pooled, same callers) | Load | SL | ASA s | Abandoned | Lost | Hold s/call "
        "| Occupancy | Callback delay s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def line(name: str, load: float, row: dict[str, Any]) -> str:
        delay = "—" if row["callback_delay_s"] is None else f"{row['callback_delay_s']:.0f}"
        return (
            f"| {name} | {load} | {row['service_level']:.3f} | {row['asa_s']:.1f} | {row['abandonment']:.1%} | "
            f"{row['lost']:.1%} | {row['mean_hold_s']:.1f} | {row['occupancy']:.2f} | {delay} |"
        )

    for load in LOADS:
        r = report["routing"][f"load {load} proficiency"]
        c = report["callbacks"]["loads"][str(load)]
        lines.append(line("FIFO, same staff", load, r["fifo"]))
        lines.append(line("skills routing", load, r["skills"]))
        lines.append(line(f"skills + callbacks above {OFFER_AFTER_S} s", load, c["callbacks"]))
    return "\n".join(lines)


def print_report(report: dict[str, Any]) -> None:
    v = report["validation"]
    print(f"Day simulator against Erlang (10 erlangs, 20 s target; {v['runs_per_point']} runs of {v['hours_per_run']} h"
          " per point, mean ± standard error)")  # fmt: skip
    print(f"{'agents':>6} | {'Erlang C SL':>11} {'sim':>13} | {'ASA C':>6} {'sim':>10} | "
          f"{'Erlang A SL':>11} {'sim':>13} | {'A aband.':>8} {'sim':>13}")  # fmt: skip
    for r in report["validation"]["rows"]:
        print(
            f"{r['agents']:>6} | {r['erlang_c_sl']:>11.4f} {r['sim_sl']:>6.4f}±{r['sim_sl_se']:.4f} | "
            f"{r['erlang_c_asa_s']:>6.2f} {r['sim_asa_s']:>6.2f}±{r['sim_asa_se']:.2f} | "
            f"{r['erlang_a_sl']:>11.4f} {r['sim_a_sl']:>6.4f}±{r['sim_a_sl_se']:.4f} | "
            f"{r['erlang_a_abandon']:>8.4f} {r['sim_a_abandon']:>6.4f}±{r['sim_a_abandon_se']:.4f}"
        )
    print("\nRouting: skills vs FIFO, same staff, same callers")
    for key, r in report["routing"].items():
        s, f = r["skills"], r["fifo"]
        print(
            f"  {key:<34} SL {f['service_level']:.3f} → {s['service_level']:.3f}, abandoned {f['abandonment']:.1%} → "
            f"{s['abandonment']:.1%}, ASA {f['asa_s']:.1f} → {s['asa_s']:.1f} s, occupancy {f['occupancy']:.2f} → "
            f"{s['occupancy']:.2f} (skills abandon less on {r['days_skills_abandon_less']}/{len(SEEDS)} days)"
        )
    print(f"\nCallbacks offered above {OFFER_AFTER_S} s (virtual hold), skills routing")
    for load, c in report["callbacks"]["loads"].items():
        n, cb = c["none"], c["callbacks"]
        print(
            f"  load {load}: abandoned {n['abandonment']:.1%} → {cb['abandonment']:.1%} "
            f"(×{c['abandonment_ratio']:.2f}, "
            f"goal ≤ 0.5: {'met' if c['met'] else 'MISSED'}), lost {n['lost']:.1%} → {cb['lost']:.1%}, hold "
            f"{n['mean_hold_s']:.1f} → {cb['mean_hold_s']:.1f} s/call, callbacks {cb['callbacks_accepted']} accepted / "
            f"{cb['callbacks_completed']} completed / {cb['callbacks_failed']} failed, "
            f"delay {cb['callback_delay_s']} s, "
            f"SL {n['service_level']:.3f} → {cb['service_level']:.3f}"
        )
    for title, key, values in (
        ("offer threshold s", "threshold", THRESHOLDS),
        ("acceptance", "acceptance", ACCEPTANCE),
    ):
        print(f"\n{title:>18} | " + " ".join(f"{v:>7}" for v in values))
        for load, sweep in report["callbacks"][key].items():
            print(f"{'abandoned @' + load:>18} | " + " ".join(f"{sweep[str(v)]['abandonment']:>7.1%}" for v in values))
            print(f"{'lost @' + load:>18} | " + " ".join(f"{sweep[str(v)]['lost']:>7.1%}" for v in values))
            print(
                f"{'delay s @' + load:>18} | "
                + " ".join(f"{sweep[str(v)]['callback_delay_s'] or 0:>7.0f}" for v in values)
            )
    store = report["store_backend"]
    print(
        f"\nStore backend (routing.service on SQLite): {store['events']} events in {store['store_s']} s "
        f"({store['store_ms_per_event']} ms/event) vs core {store['core_s']} s; identical figures: {store['identical']}"
    )
    print("\n" + report["markdown"])


def main() -> None:
    report = run()
    print_report(report)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS} and docs/daysim_*.png in {report['seconds']} s")


if __name__ == "__main__":
    main()
