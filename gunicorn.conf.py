"""gunicorn settings read from this folder: each worker starts the server's background threads."""

import gc

from services import logs

# An idle kept-alive connection stays open longer here than in nginx's upstream cache (deploy/upstreams-*.conf,
# keepalive_timeout 60s): when gunicorn closed first (its default is 2 s), nginx could send a webhook down a connection
# that was being closed and answer Twilio 502 (1 in 3,708 in the two-node bench).
keepalive = 75


def post_worker_init(worker) -> None:  # noqa: ANN001 (gunicorn's hook signature)
    """Routing ticker, embedded rq worker (without REDIS_URL) and speech models, once per worker process."""
    logs.configure()  # the app's own lines too, numbers masked like gunicorn's
    worker.wsgi.services.start_background()
    gc.freeze()  # what start-up built lives as long as the worker: full collections no longer walk it
