"""rq queues by urgency: real Redis with REDIS_URL, else an embedded stand-in.

``calls`` carries the work a caller or an agent is waiting for (dialling a callback); ``bulk`` carries
work nobody waits on (rendering prompt audio). Workers listen in that order, so rendering never delays
a dial. Embedded mode (no REDIS_URL): fakeredis in this process and one worker thread, so `make run`
needs no Redis server. Real mode: Redis at REDIS_URL and `make worker` processes. Jobs run with the
services of the process that runs them (``jobs.services``), built once by ``bootstrap``.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import fakeredis
from redis import Redis
from rq import Queue, Retry, SimpleWorker, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.timeouts import TimerDeathPenalty

if TYPE_CHECKING:
    from services.bootstrap import Services

log = logging.getLogger(__name__)

CALLS, BULK = "calls", "bulk"
QUEUE_ORDER = (CALLS, BULK)  # what a worker takes first
DIAL_RETRY = Retry(max=3, interval=[5, 30, 120])  # placing the call failed (Twilio unreachable, worker died)
DIAL_TIMEOUT_S = 30  # placing a call is one REST request
# A running job's heartbeat: renewed every JOB_MONITORING_S while its work horse lives, lapsing HEARTBEAT_SLACK_S
# later (rq's own slack is 60 s); a lapsed job is abandoned (``cleanup_abandoned``) and retried.
JOB_MONITORING_S, HEARTBEAT_SLACK_S = 5, 10
SCHEDULER_GRACE_S = 10
LIVE = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)

_current: contextvars.ContextVar[Services | None] = contextvars.ContextVar("services", default=None)


def current() -> Services | None:
    """The services the running job belongs to (set by the worker that runs it)."""
    return _current.get()


@contextmanager
def running_with(services: Services) -> Iterator[None]:
    token = _current.set(services)
    try:
        yield
    finally:
        _current.reset(token)


class _WithServices:
    """Runs each job with the worker's services (``current()``)."""

    services: Services

    def perform_job(self, job: Job, queue: Queue, *args: Any) -> bool:
        with running_with(self.services):
            return super().perform_job(job, queue, *args)  # type: ignore[misc]


class ProcessWorker(_WithServices, Worker):
    """`make worker`: forks a work horse per job, like rq's own worker, with a short heartbeat: when the worker
    and its work horse are killed, their job is known abandoned within JOB_MONITORING_S + HEARTBEAT_SLACK_S."""

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        remaining = job.timeout - working_time if job.timeout and job.timeout > 0 else self.job_monitoring_interval
        return int(min(remaining, self.job_monitoring_interval)) + HEARTBEAT_SLACK_S


class ThreadWorker(_WithServices, SimpleWorker):
    """The embedded worker: runs jobs in a thread of the web process (no signals there)."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        """Signals belong to the main thread; the embedded worker stops with the process."""


class JobQueue:
    def __init__(self, connection: Redis, embedded: bool) -> None:
        self.connection = connection
        self.embedded = embedded
        self.queues = {name: Queue(name, connection=connection) for name in QUEUE_ORDER}
        self._thread: threading.Thread | None = None

    def worker(self, services: Services, *, thread: bool = False) -> Worker:
        queues = [self.queues[name] for name in QUEUE_ORDER]
        if thread:
            worker: Worker = ThreadWorker(queues, connection=self.connection)
        else:
            worker = ProcessWorker(queues, connection=self.connection, job_monitoring_interval=JOB_MONITORING_S)
        worker.services = services
        return worker

    def start_embedded(self, services: Services) -> None:
        """Embedded mode: run the jobs in a thread of this process (with Redis, `make worker` runs them)."""
        if not self.embedded or self._thread is not None:
            return
        worker = self.worker(services, thread=True)
        self._thread = threading.Thread(target=worker.work, kwargs={"logging_level": "WARNING"}, name="rq-embedded",
                                        daemon=True)
        self._thread.start()

    def ping(self) -> bool:
        try:
            return bool(self.connection.ping())
        except Exception:  # any connection fault means "not ok" on /healthz
            return False

    def cleanup_abandoned(self) -> None:
        """Jobs whose worker died mid-run (heartbeat lapsed) are failed as abandoned, or retried if they may be
        (rq does this itself only every ten minutes); a dial retry overdue by SCHEDULER_GRACE_S is queued now (the
        scheduler's lock dies with its worker, and another worker takes it over only at its maintenance)."""
        for queue in self.queues.values():
            queue.started_job_registry.cleanup()
        calls = self.queues[CALLS]
        registry = calls.scheduled_job_registry
        for job_id in registry.get_jobs_to_schedule(int(time.time() - SCHEDULER_GRACE_S)):
            try:
                job = Job.fetch(job_id, connection=self.connection)
            except NoSuchJobError:
                registry.remove(job_id)
                continue
            registry.remove(job)
            calls.enqueue_job(job)
            log.info("job %s was overdue (no scheduler running): queued now", job_id)

    def once(self, queue: str, job_id: str, fn: Callable[..., Any], *args: Any, **options: Any) -> str:
        """Queue ``fn(*args)`` unless a live job with this id exists (never two live jobs for one thing)."""
        try:
            if Job.fetch(job_id, connection=self.connection).get_status() in LIVE:
                return job_id
        except NoSuchJobError:
            pass
        self.queues[queue].enqueue(fn, *args, job_id=job_id, **options)
        return job_id

    def place_callback(self, callback_id: int, agent_id: str) -> str:
        """Queue the job that dials callback ``callback_id``; job id = callback id."""
        from services.jobs import place_callback

        return self.once(CALLS, callback_job(callback_id), place_callback, callback_id, agent_id, retry=DIAL_RETRY,
                         job_timeout=DIAL_TIMEOUT_S, result_ttl=600, failure_ttl=86400)

    def dialling(self, callback_id: int) -> bool:
        """Is the job of callback ``callback_id`` running now (a worker may be placing its call this moment)?"""
        try:
            return Job.fetch(callback_job(callback_id), connection=self.connection).get_status() == JobStatus.STARTED
        except NoSuchJobError:
            return False

    def deliver_alert(self, delivery_id: int, attempt: int) -> str:
        """Queue one attempt at delivering an alert change (an alert: someone waits on it)."""
        from services.jobs import deliver_alert

        return self.once(CALLS, f"alert-{delivery_id}-{attempt}", deliver_alert, delivery_id, job_timeout=30,
                         result_ttl=600)

    def render_prompt(self, text: str, language: str, job_id: str) -> str:
        from services.jobs import render_prompt

        return self.once(BULK, job_id, render_prompt, text, language, result_ttl=60)


def callback_job(callback_id: int) -> str:
    """The id of the one job that dials a callback."""
    return f"callback-{callback_id}"


def connect(redis_url: str) -> JobQueue:
    """Real Redis when ``redis_url`` is set; otherwise fakeredis, whose jobs ``start_embedded`` runs in-process."""
    if redis_url:
        return JobQueue(Redis.from_url(redis_url), embedded=False)
    return JobQueue(fakeredis.FakeRedis(), embedded=True)
