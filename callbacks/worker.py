"""`make worker`: an rq worker for the callback queue on REDIS_URL."""

from __future__ import annotations

import logging
import sys

from redis import Redis
from rq import Queue, Worker

import settings
from callbacks.queue import QUEUE_NAME


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redis_url = settings.load()["REDIS_URL"]
    if not redis_url:
        print("REDIS_URL is not set: without it the server runs callback jobs itself (embedded mode)", file=sys.stderr)
        return 2
    connection = Redis.from_url(redis_url)
    Worker([Queue(QUEUE_NAME, connection=connection)], connection=connection).work(with_scheduler=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
