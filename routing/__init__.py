"""Routing: agents, skills, queues, selection of the best agent, escalation and wait estimates.

``model``, ``selection`` and ``estimates`` are the pure core (no I/O, the clock passed in);
``service`` keeps the state in SQLite through ``store.routing``; ``admin`` loads a center
from YAML. Nothing here imports Flask.
"""
