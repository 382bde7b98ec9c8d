"""What a transition asks for besides changes to its own call.

*Operations* change other state inside the webhook's one write transaction (``services.uow`` applies
them, in order, after saving the call): the routing queue and agents, callbacks, survey answers.
*Commands* run after the commit (``services.runner``): requests to the voice platform, jobs, waking
routing. A command that fails never undoes the committed changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# --- operations (inside the transaction) -------------------------------------------------------


@dataclass(frozen=True)
class NewCaller:
    """A number we have not heard from: its caller row is made, and the call is theirs."""

    number: str


@dataclass(frozen=True)
class CallerLanguage:
    """The caller chose their language at the language menu: it is kept on their caller row (if they have one)."""

    call_sid: str
    language: str


@dataclass(frozen=True)
class Enqueue:
    """Put the call in a routing queue (its place: ``entered_at``, default now)."""

    call_sid: str
    queue: str
    language: str | None
    priority: int = 0
    caller_id: int | None = None
    context: dict[str, Any] = field(default_factory=dict)
    entered_at: datetime | None = None


@dataclass(frozen=True)
class Abandon:
    """The caller hung up while queued (or while an agent rang): the item leaves, an offer is taken back."""

    call_sid: str


@dataclass(frozen=True)
class Accept:
    """The agent answered: agent busy on ``call_sid``, the item leaves the queue."""

    item_id: str
    agent_id: str
    call_sid: str | None


@dataclass(frozen=True)
class RingNoAnswer:
    """The agent did not answer: agent not ready, the item waits again at its place."""

    item_id: str
    agent_id: str


@dataclass(frozen=True)
class Withdraw:
    """Take an offer back through no fault of the agent (agent available again, item waiting)."""

    item_id: str
    reason: str
    not_before: datetime | None = None


@dataclass(frozen=True)
class AgentDone:
    """The agent's call ended: wrap-up, then available."""

    agent_id: str


@dataclass(frozen=True)
class OutboundAnswered:
    """The agent answered their own phone for the call they placed: busy on it while the customer is dialled."""

    agent_id: str
    call_sid: str


@dataclass(frozen=True)
class OutboundMissed:
    """The call the agent placed never reached them (their phone was not answered): available again."""

    agent_id: str
    call_sid: str


@dataclass(frozen=True)
class Ringing:
    """The agent's phone is ringing for ``item_id`` (the agent leg's "ringing" status)."""

    item_id: str
    agent_id: str


@dataclass(frozen=True)
class BookCallback:
    """Replace the waiting call by a callback that keeps its place (``at``: a time the caller chose)."""

    call_sid: str
    number: str
    at: datetime | None = None


@dataclass(frozen=True)
class CallbackAnswered:
    callback_id: int


@dataclass(frozen=True)
class CallbackNotReached:
    """Busy, no answer, a machine…: retry later keeping the place, or fail after the last attempt."""

    callback_id: int
    result: str


@dataclass(frozen=True)
class CallbackCompleted:
    callback_id: int


@dataclass(frozen=True)
class CustomerWaits:
    """A callback's customer answered but the agent did not: the customer's call takes the callback's place."""

    callback_id: int
    call_sid: str


@dataclass(frozen=True)
class CancelCallback:
    callback_id: int
    reason: str


@dataclass(frozen=True)
class MonitorJoined:
    """The supervisor monitoring ``call_sid`` answered their phone: they are in the call's conference."""

    call_sid: str
    supervisor_id: str


@dataclass(frozen=True)
class MonitorEnded:
    """The supervisor's leg into ``call_sid``'s conference ended (they left, hung up, or the call ended)."""

    call_sid: str
    supervisor_id: str


@dataclass(frozen=True)
class OfferTo:
    """Offer the waiting item to one named agent (a cold transfer to them, or back to its sender)."""

    item_id: str
    agent_id: str
    reason: str
    from_wrapup: bool = False


@dataclass(frozen=True)
class ConsultAnswered:
    """The colleague of a warm transfer answered: busy on the call, the transfer is consulting."""

    transfer_id: int
    agent_id: str
    call_sid: str


@dataclass(frozen=True)
class ConsultMissed:
    """The colleague of a warm transfer did not answer: not ready; the transfer ended unanswered."""

    transfer_id: int
    agent_id: str
    call_sid: str


@dataclass(frozen=True)
class ConsultDropped:
    """The colleague's part in a transfer that did not complete is over: available again."""

    agent_id: str
    call_sid: str


@dataclass(frozen=True)
class TransferEnded:
    transfer_id: int
    state: str  # completed | canceled | no-answer


@dataclass(frozen=True)
class SurveyAnswer:
    call_sid: str
    question: str
    score: int


# --- commands (after the commit) ----------------------------------------------------------------


@dataclass(frozen=True)
class KickRouting:
    """Dispatch now rather than at the next tick (a caller joined a queue, an agent became free)."""


@dataclass(frozen=True)
class RedirectCall:
    """Move a live call to new TwiML (REST update)."""

    call_sid: str
    url: str


@dataclass(frozen=True)
class HoldCaller:
    """Put the caller's participant in the call's conference on hold (music) or take them off it."""

    conference: str
    call_sid: str
    hold: bool


@dataclass(frozen=True)
class EndConference:
    """End the call's conference: everyone still in it leaves (the caller hung up while their agents consulted)."""

    conference: str


@dataclass(frozen=True)
class PlaceCallback:
    """Queue the job that dials the customer of a callback whose agent is reserved."""

    callback_id: int
    agent_id: str




@dataclass(frozen=True)
class RecordStatus:
    """Keep that Twilio reported ``status`` for the call (a repeated report is then recognized and ignored)."""

    call_sid: str
    status: str
    duration_s: int | None = None


Operation = (NewCaller | CallerLanguage | Enqueue | Abandon | Accept | RingNoAnswer | Withdraw | AgentDone | OutboundAnswered
             | OutboundMissed | Ringing | BookCallback | CallbackAnswered | CallbackNotReached | CallbackCompleted
             | CustomerWaits | CancelCallback | MonitorJoined | MonitorEnded | OfferTo | ConsultAnswered | ConsultMissed
             | ConsultDropped | TransferEnded | SurveyAnswer | RecordStatus)
Command = KickRouting | RedirectCall | HoldCaller | EndConference | PlaceCallback
