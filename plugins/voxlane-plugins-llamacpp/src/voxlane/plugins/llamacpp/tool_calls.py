"""Find tool calls in streamed model output, letting ordinary text through as it comes.

Two shapes are recognised: ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` blocks
(Hermes/Qwen/SmolLM3 templates, and Voxlane's prompt-described tools), and a reply that is one
bare JSON object or list of them with ``name`` and ``arguments``/``parameters`` (Llama 3 style).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from .chat_template import TOOL_CALL_CLOSE, TOOL_CALL_OPEN

logger = logging.getLogger("voxlane.plugins.llamacpp")


@dataclass
class ParsedToolCall:
    name: str
    arguments: str
    """A JSON object, as text."""


def _as_call(obj: Any) -> ParsedToolCall | None:
    if not isinstance(obj, dict):
        return None
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        fn = obj.get("function")
        if isinstance(fn, dict):
            return _as_call(fn)
        return None
    args = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError:
            return None
    if not isinstance(args, dict):
        return None
    return ParsedToolCall(name=name, arguments=json.dumps(args, ensure_ascii=False))


def parse_json_calls(text: str) -> list[ParsedToolCall] | None:
    """Calls in a bare JSON reply, or None when the text is not one."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    items = data if isinstance(data, list) else [data]
    calls = [_as_call(i) for i in items]
    if not calls or any(c is None for c in calls):
        return None
    return [c for c in calls if c is not None]


class ToolCallParser:
    """Incremental splitter of model output into text and tool calls."""

    def __init__(self, *, bare_json: bool) -> None:
        self._bare_json = bare_json
        self._pending = ""  # text not yet released: a possible start of a tag, or a call body
        self._in_call = False
        self._seen_text = False  # anything non-blank released or held as text
        self._holding_json = False
        self.calls: list[ParsedToolCall] = []

    def feed(self, text: str) -> str:
        """Add generated text; return the part that is safe to show as reply text."""
        self._pending += text
        if self._holding_json:
            return ""
        if self._bare_json and not self._seen_text and not self._in_call:
            stripped = self._pending.lstrip()
            if stripped[:1] in ("{", "["):
                self._holding_json = True
                return ""
            if not stripped:
                return ""
        return self._drain()

    def _drain(self) -> str:
        out: list[str] = []
        while self._pending:
            if self._in_call:
                end = self._pending.find(TOOL_CALL_CLOSE)
                if end < 0:
                    break
                self._add_call_body(self._pending[:end])
                self._pending = self._pending[end + len(TOOL_CALL_CLOSE) :]
                self._in_call = False
                continue
            start = self._pending.find(TOOL_CALL_OPEN)
            if start >= 0:
                out.append(self._pending[:start])
                self._pending = self._pending[start + len(TOOL_CALL_OPEN) :]
                self._in_call = True
                continue
            # keep back a suffix that could be the beginning of "<tool_call>"
            keep = 0
            for n in range(min(len(TOOL_CALL_OPEN) - 1, len(self._pending)), 0, -1):
                if TOOL_CALL_OPEN.startswith(self._pending[-n:]):
                    keep = n
                    break
            cut = len(self._pending) - keep
            out.append(self._pending[:cut])
            self._pending = self._pending[cut:]
            break
        released = "".join(out)
        if released.strip():
            self._seen_text = True
        return released

    def _add_call_body(self, body: str) -> None:
        calls = parse_json_calls(body.strip())
        if calls is None:
            logger.warning("dropping a malformed tool call from the model: %r", body[:200])
            return
        self.calls.extend(calls)

    def finish(self) -> str:
        """End of output: return any remaining text; ``calls`` holds every tool call found."""
        if self._holding_json:
            text, self._pending = self._pending, ""
            calls = parse_json_calls(text.strip())
            if calls is not None:
                self.calls.extend(calls)
                return ""
            return text
        if self._in_call:
            # the model stopped before the closing tag (often at a stop sequence)
            self._add_call_body(self._pending)
            self._pending, self._in_call = "", False
            return ""
        text, self._pending = self._pending, ""
        return text
