"""Every model, imported so that `Base.metadata` knows all tables."""

from app.db import Base
from app.models.controls import AuditEntry, KillSwitch, Silence
from app.models.event import Event
from app.models.inventory import Server
from app.models.job import ActionJob, JobAttempt
from app.models.loop import FarmTraffic, FlapEpisode, Hold
from app.models.ops import Breaker, PeriodicTask, RuleState, WorkerHeartbeat
from app.models.rollup import EventFold, EventHour
from app.models.scalr import ScalrApiUsage

__all__ = [
    "ActionJob",
    "AuditEntry",
    "Base",
    "Breaker",
    "Event",
    "EventFold",
    "EventHour",
    "FarmTraffic",
    "FlapEpisode",
    "Hold",
    "JobAttempt",
    "KillSwitch",
    "PeriodicTask",
    "RuleState",
    "ScalrApiUsage",
    "Server",
    "Silence",
    "WorkerHeartbeat",
]
