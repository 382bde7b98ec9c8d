"""The service layer: the typed services built once (``bootstrap``), the unit of work that applies a
transition in one write transaction (``uow``), the commands run after it (``runner``), the routing
ticker (``ticker``), and the rq jobs with their queue and worker (``jobs``, ``jobqueue``, ``worker``).

The web app (``app.create_app``) and the rq worker (``make worker``) both call ``bootstrap.bootstrap``;
no job builds the web app.
"""
