"""Terminal text output of the agent's words, and transcript files."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from ..io import TextOutput


class StreamTextOutput(TextOutput):
    """Prints each agent segment as ``Agent: <text>`` on a text stream."""

    def __init__(
        self,
        stream: TextIO,
        *,
        prefix: str = "Agent: ",
        on_segment_end: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(label="console-text")
        self._stream = stream
        self._prefix = prefix
        self._on_segment_end = on_segment_end
        self._segment: list[str] = []
        self.enabled = True

    @property
    def capturing(self) -> bool:
        return bool(self._segment)

    async def capture_text(self, text: str) -> None:
        if not text:
            return
        if not self._segment and self.enabled:
            self._stream.write("\r\033[K" + self._prefix)
        self._segment.append(text)
        if self.enabled:
            self._stream.write(text)
            self._stream.flush()

    def flush(self) -> None:
        if not self._segment:
            return
        text = "".join(self._segment)
        self._segment = []
        if self.enabled:
            self._stream.write("\n")
            self._stream.flush()
        if self._on_segment_end is not None:
            self._on_segment_end(text)


__all__ = ["StreamTextOutput"]
