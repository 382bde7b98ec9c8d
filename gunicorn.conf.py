"""gunicorn settings read from this folder: each worker starts the server's background threads."""


def post_worker_init(worker) -> None:  # noqa: ANN001 (gunicorn's hook signature)
    """Routing ticker, embedded rq worker (without REDIS_URL) and speech models, once per worker process."""
    from app import start_background

    start_background(worker.wsgi)
