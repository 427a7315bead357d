"""``SentenceStreamPacer``: fewer, longer TTS requests for ``tts.StreamAdapter``.

Without pacing, a :class:`~voxlane.agents.tts.StreamAdapter` calls ``synthesize()`` once per
sentence. With a pacer, sentences wait in a queue while enough audio is buffered ahead of the
listener, and are sent together (joined, up to ``max_text_length`` characters) once the audio
left to play drops to ``min_remaining_audio`` seconds. The first text goes out at once (nothing
is buffered yet), so the first audio is not delayed; later requests carry more text, which
costs fewer requests and usually sounds more natural (the TTS sees whole passages).

The audio left is estimated from what the adapter has produced, assuming it plays in real
time from the moment it is produced (the listener's real playout is not visible to a TTS).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator

from ..utils import aio


class PlayoutEstimate:
    """When the audio produced so far will have finished playing, in loop time.

    Each :meth:`add` of ``duration`` seconds plays after the audio already queued, or right
    away when the earlier audio has already finished.
    """

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._end: float | None = None

    def add(self, duration: float) -> None:
        """``duration`` seconds of audio were produced now."""
        if duration < 0 or math.isnan(duration):
            raise ValueError(f"audio duration must be >= 0 seconds, got {duration}")
        now = self._loop.time()
        start = now if self._end is None else max(self._end, now)
        self._end = start + duration

    def remaining(self) -> float:
        """Seconds of produced audio not played yet (0 when everything played)."""
        if self._end is None:
            return 0.0
        return max(0.0, self._end - self._loop.time())


class SentenceStreamPacer:
    """Batch sentences so the next ``synthesize()`` is issued when the buffered audio runs low.

    Args:
        min_remaining_audio: seconds of audio still to play at which the next request is sent.
            A larger value starts requests earlier (safer against slow TTS), a smaller one
            batches more text per request.
        max_text_length: at most this many characters per request (a single sentence longer
            than that is still sent whole).

    Pass it as ``tts.StreamAdapter(tts=..., text_pacing=SentenceStreamPacer(...))``
    (``text_pacing=True`` uses the defaults).
    """

    def __init__(self, *, min_remaining_audio: float = 5.0, max_text_length: int = 300) -> None:
        if (
            isinstance(min_remaining_audio, bool)
            or not isinstance(min_remaining_audio, (int, float))
            or not min_remaining_audio >= 0
            or math.isinf(min_remaining_audio)
        ):
            raise ValueError(
                f"min_remaining_audio must be a finite number of seconds >= 0, "
                f"got {min_remaining_audio!r}"
            )
        if isinstance(max_text_length, bool) or not isinstance(max_text_length, int):
            raise TypeError(f"max_text_length must be an int, got {max_text_length!r}")
        if max_text_length < 1:
            raise ValueError(f"max_text_length must be >= 1 character, got {max_text_length}")
        self._min_remaining_audio = float(min_remaining_audio)
        self._max_text_length = max_text_length

    @property
    def min_remaining_audio(self) -> float:
        return self._min_remaining_audio

    @property
    def max_text_length(self) -> int:
        return self._max_text_length

    def __repr__(self) -> str:
        return (
            f"SentenceStreamPacer(min_remaining_audio={self._min_remaining_audio}, "
            f"max_text_length={self._max_text_length})"
        )

    def _take_batch(self, pending: deque[str]) -> str:
        parts = [pending.popleft()]
        length = len(parts[0])
        while pending and length + 1 + len(pending[0]) <= self._max_text_length:
            nxt = pending.popleft()
            parts.append(nxt)
            length += 1 + len(nxt)
        return " ".join(parts)

    async def pace(
        self, sentences: AsyncIterable[str], playout: PlayoutEstimate
    ) -> AsyncIterator[str]:
        """Yield the texts to synthesize, one per request.

        The caller synthesizes each text before asking for the next one and reports the audio
        it produced to ``playout``. A batch is released when ``playout`` has at most
        ``min_remaining_audio`` seconds left, or right away once ``sentences`` has ended
        (nothing more is coming, so there is nothing to wait for).
        """
        pending: deque[str] = deque()
        changed = asyncio.Event()
        ended = False
        failure: BaseException | None = None

        async def _read() -> None:
            nonlocal ended, failure
            try:
                async for sentence in sentences:
                    if sentence.strip():
                        pending.append(sentence.strip())
                        changed.set()
            except Exception as e:
                failure = e
            finally:
                ended = True
                changed.set()

        reader = asyncio.create_task(_read(), name="SentenceStreamPacer._read")
        try:
            while True:
                while not pending and not ended:
                    changed.clear()
                    await changed.wait()
                if failure is not None:
                    raise failure
                if not pending:
                    return
                while not ended and playout.remaining() > self._min_remaining_audio:
                    changed.clear()
                    wait = playout.remaining() - self._min_remaining_audio
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(changed.wait(), timeout=wait)
                if failure is not None:
                    raise failure
                yield self._take_batch(pending)
        finally:
            await aio.cancel_and_wait(reader)


__all__ = ["PlayoutEstimate", "SentenceStreamPacer"]
