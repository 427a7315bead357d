"""Tests of voxlane.agents.utils.retry: the retry policy shared by the LLM, STT and TTS bases.

Timing tests run on the virtual clock, so the pauses between attempts are exact and take no
wall time.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from voxlane.agents._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
)
from voxlane.agents.testing import now
from voxlane.agents.types import APIConnectOptions
from voxlane.agents.utils.retry import Retrier

LOGGER = logging.getLogger("tests.utils.retry")


class Emitted:
    """Records what the retrier emits, like a model's ``_emit_error``."""

    def __init__(self) -> None:
        self.errors: list[Exception] = []
        self.recoverable: list[bool] = []
        self.any = asyncio.Event()

    def __call__(self, error: Exception, *, recoverable: bool) -> None:
        self.errors.append(error)
        self.recoverable.append(recoverable)
        self.any.set()


def make(
    emitted: Emitted,
    *,
    max_retry: int = 3,
    retry_interval: float = 2.0,
    failure: str = "failed to do the thing",
) -> Retrier:
    return Retrier(
        label="test.Model",
        conn_options=APIConnectOptions(max_retry=max_retry, retry_interval=retry_interval),
        emit_error=emitted,
        logger=LOGGER,
        failure=failure,
    )


class Attempts:
    """An attempt function that raises the given errors in turn, then succeeds."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.started_at: list[float] = []

    async def __call__(self) -> None:
        self.started_at.append(now())
        if self.errors:
            raise self.errors.pop(0)


@pytest.mark.virtual_clock
async def test_retries_until_the_attempt_succeeds() -> None:
    emitted = Emitted()
    retrier = make(emitted)
    first, second = APIConnectionError("reset"), APIStatusError("busy", status_code=503)
    attempts = Attempts(first, second)
    await retrier.run(attempts)
    assert len(attempts.started_at) == 3
    assert retrier.retries == 2
    assert emitted.errors == [first, second]
    assert emitted.recoverable == [True, True]


@pytest.mark.virtual_clock
async def test_gives_up_after_max_retry_with_connection_error() -> None:
    emitted = Emitted()
    retrier = make(emitted, max_retry=2, failure="failed to recognize speech")
    errors = [APIConnectionError(f"down {i}") for i in range(5)]
    attempts = Attempts(*errors)
    with pytest.raises(APIConnectionError) as ei:
        await retrier.run(attempts)
    assert ei.value.message == (
        "test.Model: failed to recognize speech after 3 attempts, last error: down 2"
    )
    assert ei.value.__cause__ is errors[2]
    assert len(attempts.started_at) == 3
    assert emitted.errors == errors[:3]
    assert emitted.recoverable == [True, True, False]


@pytest.mark.virtual_clock
async def test_pause_before_each_retry_follows_conn_options() -> None:
    attempts = Attempts(*(APIConnectionError("down") for _ in range(4)))
    with pytest.raises(APIConnectionError, match="after 4 attempts"):
        await make(Emitted(), max_retry=3, retry_interval=2.0).run(attempts)
    start = attempts.started_at[0]
    gaps = [t - start for t in attempts.started_at]
    # the first retry waits only 0.1 s, later ones retry_interval
    assert gaps == pytest.approx([0.0, 0.1, 2.1, 4.1])


@pytest.mark.virtual_clock
async def test_short_retry_interval_also_bounds_the_first_pause() -> None:
    attempts = Attempts(APIConnectionError("a"), APIConnectionError("b"))
    await make(Emitted(), retry_interval=0.03).run(attempts)
    start = attempts.started_at[0]
    assert [t - start for t in attempts.started_at] == pytest.approx([0.0, 0.03, 0.06])


@pytest.mark.virtual_clock
async def test_not_retryable_error_is_raised_at_once() -> None:
    emitted = Emitted()
    error = APIStatusError("bad request", status_code=400)
    attempts = Attempts(error)
    with pytest.raises(APIStatusError) as ei:
        await make(emitted).run(attempts)
    assert ei.value is error
    assert len(attempts.started_at) == 1
    assert emitted.errors == [error] and emitted.recoverable == [False]


@pytest.mark.virtual_clock
async def test_max_retry_zero_raises_the_first_error_itself() -> None:
    emitted = Emitted()
    error = APITimeoutError("slow")
    attempts = Attempts(error)
    with pytest.raises(APITimeoutError) as ei:
        await make(emitted, max_retry=0).run(attempts)
    assert ei.value is error
    assert len(attempts.started_at) == 1
    assert emitted.recoverable == [False]


@pytest.mark.virtual_clock
async def test_no_retry_once_output_was_sent(caplog: pytest.LogCaptureFixture) -> None:
    emitted = Emitted()
    error = APIConnectionError("dropped mid-stream")
    attempts = Attempts(error)
    retrier = make(emitted, failure="failed to generate a completion")
    with (
        caplog.at_level(logging.WARNING, logger=LOGGER.name),
        pytest.raises(APIConnectionError) as ei,
    ):
        await retrier.run(attempts, output_sent=lambda: True)
    assert ei.value is error  # the error itself, not "failed after N attempts"
    assert len(attempts.started_at) == 1
    assert emitted.recoverable == [False]
    [record] = caplog.records
    assert "test.Model: failed to generate a completion after output was sent" in (
        record.getMessage()
    )
    assert "nothing is duplicated" in record.getMessage()


@pytest.mark.virtual_clock
async def test_output_sent_on_a_later_attempt_still_raises_that_error() -> None:
    emitted = Emitted()
    attempts = Attempts(APIConnectionError("first"), APIConnectionError("second"))
    sent = [False, True]  # the second attempt delivered output before it failed
    with pytest.raises(APIConnectionError, match=r"^second"):
        await make(emitted, max_retry=1).run(attempts, output_sent=lambda: sent.pop(0))
    assert emitted.recoverable == [True, False]


@pytest.mark.virtual_clock
async def test_retry_logs_a_warning_with_the_failure_phrase(
    caplog: pytest.LogCaptureFixture,
) -> None:
    attempts = Attempts(APIConnectionError("reset"))
    with caplog.at_level(logging.WARNING, logger=LOGGER.name):
        await make(Emitted(), failure="failed to synthesize speech").run(attempts)
    [record] = caplog.records
    message = record.getMessage()
    assert message.startswith("test.Model: failed to synthesize speech, retrying in 0.1 s")
    assert "(retry 1 of 3)" in message and "reset" in message


@pytest.mark.virtual_clock
async def test_reset_restores_the_retry_budget() -> None:
    emitted = Emitted()
    retrier = make(emitted, max_retry=2)
    for _ in range(2):
        await retrier.on_error(APIConnectionError("x"))
    assert retrier.retries == 2
    retrier.reset()
    assert retrier.retries == 0
    for _ in range(2):
        await retrier.on_error(APIConnectionError("y"))
    with pytest.raises(APIConnectionError, match="after 3 attempts, last error: z"):
        await retrier.on_error(APIConnectionError("z"))
    assert emitted.recoverable == [True] * 4 + [False]


@pytest.mark.virtual_clock
async def test_status_499_ends_the_run_quietly() -> None:
    emitted = Emitted()
    attempts = Attempts(APIStatusError("client closed request", status_code=499))
    await make(emitted).run(attempts)
    assert len(attempts.started_at) == 1
    assert emitted.errors == []


@pytest.mark.virtual_clock
async def test_status_499_is_an_ordinary_error_for_on_error() -> None:
    # only run() treats 499 as a cancellation; a caller that needs a result decides itself
    emitted = Emitted()
    with pytest.raises(APIStatusError):
        await make(emitted).on_error(APIStatusError("closed", status_code=499))
    assert emitted.recoverable == [False]


@pytest.mark.virtual_clock
async def test_unexpected_exception_is_emitted_and_not_retried() -> None:
    emitted = Emitted()
    bug = ValueError("plugin bug")
    attempts = Attempts(bug)
    with pytest.raises(ValueError, match="plugin bug"):
        await make(emitted).run(attempts)
    assert len(attempts.started_at) == 1
    assert emitted.errors == [bug] and emitted.recoverable == [False]


@pytest.mark.virtual_clock
async def test_cancel_during_the_pause_stops_without_another_error() -> None:
    emitted = Emitted()
    retrier = make(emitted)
    attempts = Attempts(*(APIConnectionError("down") for _ in range(4)))
    task = asyncio.create_task(retrier.run(attempts))
    await emitted.any.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert emitted.recoverable == [True]
    assert len(attempts.started_at) == 1 and retrier.retries == 0


async def test_bad_arguments_are_rejected_clearly() -> None:
    with pytest.raises(TypeError, match="conn_options must be an APIConnectOptions"):
        Retrier(
            label="x",
            conn_options=3,  # type: ignore[arg-type]
            emit_error=Emitted(),
            logger=LOGGER,
            failure="failed",
        )
    with pytest.raises(ValueError, match="failure must describe what failed"):
        Retrier(
            label="x",
            conn_options=APIConnectOptions(),
            emit_error=Emitted(),
            logger=LOGGER,
            failure="",
        )
