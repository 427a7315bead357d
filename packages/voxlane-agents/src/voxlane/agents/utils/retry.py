"""The retry policy shared by the LLM, STT and TTS base classes.

Every provider call made through a base class (an LLM completion, a speech recognition, a
synthesis) follows the same rule when an attempt fails with an :class:`APIError`:

1. output of the failed attempt already reached the consumer: give up with that error (a retry
   would send the output twice);
2. the error is not retryable, or ``conn_options.max_retry`` is 0: give up with that error;
3. ``max_retry`` retries were already made: give up with an :class:`APIConnectionError`
   "<label>: <failure> after N attempts, last error: ...", chained to the last error;
4. otherwise: emit the error as recoverable, log a warning, sleep
   ``conn_options._interval_for_retry(retries)`` and count one more retry.

Each outcome emits one ``"error"`` event through the owner's ``_emit_error`` callback, with
``recoverable=True`` only in case 4. A status 499 (the request was cancelled on purpose) is not a
failure: :meth:`Retrier.run` ends quietly on it.

The module lives in ``utils`` rather than next to one base class because it is shared by three
sibling packages (``llm``, ``stt``, ``tts``) and depends only on the error family and
:class:`~voxlane.agents.types.APIConnectOptions`; plugins that manage their own reconnects can
use it too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from .._exceptions import APIConnectionError, APIError, APIStatusError
from ..types import APIConnectOptions

__all__ = ["ErrorEmitter", "Retrier"]


class ErrorEmitter(Protocol):
    """The owner's way to report an error: ``emit(error, recoverable=...)``."""

    def __call__(self, error: Exception, *, recoverable: bool) -> None: ...


def _nothing_sent() -> bool:
    return False


class Retrier:
    """Applies the retry policy to the failed attempts of one request or stream.

    Create one per request (or per stream); it counts the retries made so far. ``failure`` is
    the phrase used in messages, such as ``"failed to recognize speech"``; ``label`` names the
    model in them (its ``label`` property).
    """

    def __init__(
        self,
        *,
        label: str,
        conn_options: APIConnectOptions,
        emit_error: ErrorEmitter,
        logger: logging.Logger,
        failure: str,
    ) -> None:
        if not isinstance(conn_options, APIConnectOptions):
            raise TypeError(
                f"conn_options must be an APIConnectOptions, got {type(conn_options).__name__}"
            )
        if not failure:
            raise ValueError("failure must describe what failed, e.g. 'failed to recognize speech'")
        self._label = label
        self._conn_options = conn_options
        self._emit_error = emit_error
        self._logger = logger
        self._failure = failure
        self._retries = 0

    @property
    def retries(self) -> int:
        """How many retries were made so far (also the 0-based number of the current attempt)."""
        return self._retries

    def reset(self) -> None:
        """Restore the full retry budget, e.g. after a stream proved its connection works."""
        self._retries = 0

    async def on_error(self, error: APIError, *, output_sent: bool = False) -> None:
        """Handle one failed attempt.

        Returns (after the pause between attempts) when the caller should try again; raises the
        error to give up otherwise. ``output_sent`` tells whether the failed attempt already
        delivered output to the consumer, which rules out a retry.
        """
        max_retry = self._conn_options.max_retry
        if output_sent:
            self._emit_error(error, recoverable=False)
            self._logger.warning(
                "%s: %s after output was sent; not retrying so nothing is duplicated: %s",
                self._label,
                self._failure,
                error,
            )
            raise error
        if max_retry == 0 or not error.retryable:
            self._emit_error(error, recoverable=False)
            raise error
        if self._retries >= max_retry:
            self._emit_error(error, recoverable=False)
            raise APIConnectionError(
                f"{self._label}: {self._failure} after {self._retries + 1} attempts, "
                f"last error: {error.message}"
            ) from error
        self._emit_error(error, recoverable=True)
        delay = self._conn_options._interval_for_retry(self._retries)
        self._logger.warning(
            "%s: %s, retrying in %.1f s (retry %d of %d): %s",
            self._label,
            self._failure,
            delay,
            self._retries + 1,
            max_retry,
            error,
        )
        await asyncio.sleep(delay)
        self._retries += 1

    async def run(
        self,
        attempt: Callable[[], Awaitable[None]],
        *,
        output_sent: Callable[[], bool] = _nothing_sent,
    ) -> None:
        """Run ``attempt`` until it returns, retrying it by the policy.

        ``output_sent`` is asked after each failure whether that attempt delivered output. An
        :class:`APIStatusError` with status 499 ends the loop quietly. Any other exception (a bug,
        not a provider failure) is emitted as unrecoverable and raised.
        """
        while True:
            try:
                await attempt()
                return
            except APIError as e:
                if isinstance(e, APIStatusError) and e.status_code == 499:
                    self._logger.debug(
                        "%s: the provider cancelled the request (status 499)", self._label
                    )
                    return
                await self.on_error(e, output_sent=output_sent())
            except Exception as e:
                self._emit_error(e, recoverable=False)
                raise
