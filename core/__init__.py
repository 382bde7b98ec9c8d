"""The call core: the lifecycle of a call as transitions that take an input and return changes and commands.

No Flask and no store here. A webhook loads what a transition needs, calls it, and applies what it
returns in one write transaction (``services.uow``); the commands run after the commit
(``services.runner``). Also declared here once: the errors every package raises (``errors``), the
clock and time text (``clock``), the languages, roles and queue defaults (``constants``), the URLs of
our webhooks (``urls``), phone numbers (``numbers``) and opening hours (``hours``).
"""
