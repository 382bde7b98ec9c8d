"""One row of the combined table of ``python -m bench``: each results file lists its rows under ``headline``."""

from __future__ import annotations

from typing import Any


def row(
    measure: str,
    value: Any,
    baseline: Any = None,
    *,
    ratio: float | None = None,
    goal: str | None = None,
    met: bool | None = None,
) -> dict[str, Any]:
    """``value`` beside its ``baseline`` measured in the same run, their ``ratio``, the ``goal``, whether it is met."""
    return {"measure": measure, "value": value, "baseline": baseline, "ratio": ratio, "goal": goal, "met": met}
