"""gunicorn settings read from this folder: each worker starts the server's background threads."""

import sys

# A webhook thread that holds the database's write lock waits for the interpreter lock each time SQLite hands it
# back; with gthread's threads busy parsing other requests, Python's default switch interval (5 ms) stretches a
# sub-millisecond transaction, and every writer of both processes waits behind it. 0.5 ms keeps the hand-overs short.
SWITCH_INTERVAL_S = 0.0005


def post_worker_init(worker) -> None:  # noqa: ANN001 (gunicorn's hook signature)
    """Routing ticker, embedded rq worker (without REDIS_URL) and speech models, once per worker process."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    worker.wsgi.services.start_background()
