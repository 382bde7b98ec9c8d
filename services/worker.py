"""`make worker`: an rq worker for the job queues on REDIS_URL, with the center's services built once."""

from __future__ import annotations

import logging
import sys

import settings
from core.errors import ConfigError
from services import logs
from services.bootstrap import bootstrap
from services.config import resolve
from services.jobqueue import QUEUE_ORDER


def main() -> int:
    logs.configure()
    try:
        services = bootstrap(resolve(settings.load()))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if services.jobs.embedded:
        print("REDIS_URL is not set: without it the server runs its jobs itself (embedded mode)", file=sys.stderr)
        return 2
    logging.getLogger(__name__).info("rq worker on queues %s (in that order)", ", ".join(QUEUE_ORDER))
    services.jobs.worker(services).work(with_scheduler=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
