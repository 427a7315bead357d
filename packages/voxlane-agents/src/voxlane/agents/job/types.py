"""Small value types shared by jobs, executors and the worker."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from livekit.protocol import agent


class AutoSubscribe(str, enum.Enum):
    """Which remote tracks `JobContext.connect` subscribes to automatically."""

    SUBSCRIBE_ALL = "subscribe_all"
    SUBSCRIBE_NONE = "subscribe_none"
    AUDIO_ONLY = "audio_only"
    VIDEO_ONLY = "video_only"


class JobExecutorType(enum.Enum):
    """Where a job runs: in its own process (isolated, default) or in a thread of the worker."""

    PROCESS = "process"
    THREAD = "thread"


@dataclass
class JobAcceptArguments:
    """How the agent appears in the room once a job is accepted."""

    name: str
    identity: str
    metadata: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class RunningJobInfo:
    """Everything a job process needs to run one job."""

    accept_arguments: JobAcceptArguments
    job: agent.Job
    url: str
    token: str
    worker_id: str
    fake_job: bool = False

    # protobuf classes of livekit-protocol cannot be pickled directly: carry the job as bytes
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["job"] = self.job.SerializeToString()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        job = agent.Job()
        job.ParseFromString(state["job"])
        self.__dict__.update(state)
        self.job = job


__all__ = ["AutoSubscribe", "JobAcceptArguments", "JobExecutorType", "RunningJobInfo"]
