"""Jobs: the context an entrypoint runs with, job requests, and the room surface they use."""

from .context import (
    DEFAULT_PARTICIPANT_KINDS,
    JobContext,
    JobProcess,
    ShutdownCallback,
    get_job_context,
)
from .request import JobRequest
from .room_surface import RoomFactory, RoomLike, default_room_factory
from .types import AutoSubscribe, JobAcceptArguments, JobExecutorType, RunningJobInfo

__all__ = [
    "DEFAULT_PARTICIPANT_KINDS",
    "AutoSubscribe",
    "JobAcceptArguments",
    "JobContext",
    "JobExecutorType",
    "JobProcess",
    "JobRequest",
    "RoomFactory",
    "RoomLike",
    "RunningJobInfo",
    "ShutdownCallback",
    "default_room_factory",
    "get_job_context",
]
