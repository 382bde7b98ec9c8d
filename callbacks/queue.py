"""The rq queue for callback jobs: real Redis with REDIS_URL, else an embedded stand-in.

Embedded mode (no REDIS_URL): fakeredis in this process and one worker thread, so `make run` needs
no Redis server. Real mode: Redis at REDIS_URL and `make worker` processes (``python -m callbacks.worker``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import fakeredis
from redis import Redis
from rq import Queue, Retry, SimpleWorker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.timeouts import TimerDeathPenalty

log = logging.getLogger(__name__)

QUEUE_NAME = "callbacks"
JOB_RETRY = Retry(max=3, interval=[5, 30, 120])  # placing the call failed (Twilio unreachable, worker died)
LIVE = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)


class ThreadWorker(SimpleWorker):
    """An rq worker that runs in a thread of the web process (no signals there)."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        """Signals belong to the main thread; the embedded worker stops with the process."""


@dataclass
class Backend:
    connection: Redis
    queue: Queue
    embedded: bool
    worker_thread: threading.Thread | None = field(default=None)

    def start_worker(self) -> None:
        """Embedded mode: run the jobs in a thread of this process (with Redis, `make worker` runs them)."""
        if not self.embedded or self.worker_thread is not None:
            return
        worker = ThreadWorker([self.queue], connection=self.connection)
        self.worker_thread = threading.Thread(target=worker.work, kwargs={"logging_level": "WARNING"}, name="rq-embedded", daemon=True)
        self.worker_thread.start()

    def ping(self) -> bool:
        try:
            return bool(self.connection.ping())
        except Exception:  # any connection fault means "not ok" on /healthz
            return False

    def enqueue_place(self, callback_id: int, agent_id: str) -> str:
        """Queue the job that dials callback ``callback_id``; job id = callback id, never two live jobs for one callback."""
        job_id = f"callback-{callback_id}"
        try:
            if Job.fetch(job_id, connection=self.connection).get_status() in LIVE:
                return job_id
        except NoSuchJobError:
            pass
        from callbacks.jobs import place_callback

        self.queue.enqueue(place_callback, callback_id, agent_id, job_id=job_id, retry=JOB_RETRY, result_ttl=600, failure_ttl=86400)
        return job_id


def make_backend(redis_url: str) -> Backend:
    """Real Redis when ``redis_url`` is set; otherwise fakeredis, whose jobs ``start_worker`` runs in-process."""
    if redis_url:
        connection = Redis.from_url(redis_url)
        return Backend(connection, Queue(QUEUE_NAME, connection=connection), embedded=False)
    connection = fakeredis.FakeRedis()
    return Backend(connection, Queue(QUEUE_NAME, connection=connection), embedded=True)
