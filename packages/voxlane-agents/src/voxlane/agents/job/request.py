"""`JobRequest`: the question "do you want this job?" given to a worker's ``request_fnc``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from livekit.protocol import agent, models

from .types import JobAcceptArguments


class JobRequest:
    """A job offered to this worker. Call exactly one of :meth:`accept` or :meth:`reject`."""

    def __init__(
        self,
        *,
        job: agent.Job,
        on_reject: Callable[[bool], Awaitable[None]],
        on_accept: Callable[[JobAcceptArguments], Awaitable[None]],
    ) -> None:
        self._job = job
        self._on_reject = on_reject
        self._on_accept = on_accept
        self._answered = False

    @property
    def id(self) -> str:
        return self._job.id

    @property
    def job(self) -> agent.Job:
        return self._job

    @property
    def room(self) -> models.Room:
        return self._job.room

    @property
    def publisher(self) -> models.ParticipantInfo | None:
        return self._job.participant if self._job.HasField("participant") else None

    @property
    def agent_name(self) -> str:
        return self._job.agent_name

    @property
    def answered(self) -> bool:
        return self._answered

    def _mark_answered(self, action: str) -> None:
        if self._answered:
            raise RuntimeError(
                f"cannot {action} job {self.id}: this JobRequest was already accepted or rejected"
            )
        self._answered = True

    async def reject(self, *, terminate: bool = False) -> None:
        """Decline the job; the server may offer it to another worker."""
        self._mark_answered("reject")
        await self._on_reject(terminate)

    async def accept(
        self,
        *,
        name: str = "",
        identity: str = "",
        metadata: str = "",
        attributes: dict[str, str] | None = None,
    ) -> None:
        """Accept the job. ``identity`` defaults to ``agent-<job id>``."""
        self._mark_answered("accept")
        if not identity:
            identity = "agent-" + self.id
        await self._on_accept(
            JobAcceptArguments(
                name=name,
                identity=identity,
                metadata=metadata,
                attributes=dict(attributes or {}),
            )
        )


__all__ = ["JobRequest"]
