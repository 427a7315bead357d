"""Text-only testing helpers, re-exported from :mod:`voxlane.agents.voice.run_result`.

``await session.run(user_input=...)`` returns a :class:`RunResult`; assert on it with
``result.expect``; replace tool implementations with :func:`mock_tools`.
"""

from ..voice.run_result import (
    AgentHandoffEvent,
    ChatMessageEvent,
    EventAssert,
    EventRangeAssert,
    FunctionCallEvent,
    FunctionCallOutputEvent,
    RunAssert,
    RunEvent,
    RunResult,
    mock_tools,
)

__all__ = [
    "AgentHandoffEvent",
    "ChatMessageEvent",
    "EventAssert",
    "EventRangeAssert",
    "FunctionCallEvent",
    "FunctionCallOutputEvent",
    "RunAssert",
    "RunEvent",
    "RunResult",
    "mock_tools",
]
