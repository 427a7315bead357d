"""The APIError family's retry rule and APIConnectOptions (defaults, validation, retry pauses)."""

from __future__ import annotations

import dataclasses

import pytest

from voxlane.agents import (
    DEFAULT_API_CONNECT_OPTIONS,
    AgentsError,
    APIConnectionError,
    APIConnectOptions,
    APIError,
    APIStatusError,
    APITimeoutError,
)
from voxlane.agents._exceptions import create_api_error_from_http


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 499])
def test_client_errors_are_not_retryable(status: int) -> None:
    assert not APIStatusError("nope", status_code=status).retryable


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, -1])
def test_timeouts_rate_limits_server_errors_and_unknown_status_are_retryable(status: int) -> None:
    assert APIStatusError("try again", status_code=status).retryable


def test_explicit_retryable_overrides_the_status_rule() -> None:
    assert APIStatusError("quota", status_code=429, retryable=False).retryable is False
    assert APIStatusError("flaky proxy", status_code=400, retryable=True).retryable is True


def test_status_error_carries_its_details_in_the_message() -> None:
    err = APIStatusError(
        "bad key", status_code=401, request_id="req-1", body={"e": 1}, retry_after=2.5
    )
    assert (err.status_code, err.request_id, err.body, err.retry_after) == (
        401,
        "req-1",
        {"e": 1},
        2.5,
    )
    text = str(err)
    assert "bad key" in text and "status_code=401" in text and "req-1" in text
    assert "retryable=False" in text


def test_connection_and_timeout_errors() -> None:
    conn = APIConnectionError()
    timeout = APITimeoutError()
    assert conn.retryable and timeout.retryable
    assert isinstance(timeout, APIConnectionError)
    for err in (conn, timeout, APIStatusError("x", status_code=500)):
        assert isinstance(err, APIError) and isinstance(err, AgentsError)
    assert not APIConnectionError("refused", retryable=False).retryable


def test_http_helper_applies_the_default_rule() -> None:
    assert not create_api_error_from_http("forbidden", status=403).retryable
    limited = create_api_error_from_http("slow down", status=429, retry_after=1.0)
    assert limited.retryable and limited.retry_after == 1.0 and limited.status_code == 429


def test_connect_options_defaults_match_the_reference() -> None:
    assert (
        DEFAULT_API_CONNECT_OPTIONS.max_retry,
        DEFAULT_API_CONNECT_OPTIONS.retry_interval,
        DEFAULT_API_CONNECT_OPTIONS.timeout,
    ) == (3, 2.0, 10.0)
    assert APIConnectOptions() == DEFAULT_API_CONNECT_OPTIONS
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_API_CONNECT_OPTIONS.max_retry = 5  # type: ignore[misc]


def test_first_retry_is_quick_then_retry_interval() -> None:
    opts = APIConnectOptions(max_retry=3, retry_interval=2.0)
    assert [opts._interval_for_retry(n) for n in range(3)] == [0.1, 2.0, 2.0]
    assert APIConnectOptions(retry_interval=0.0)._interval_for_retry(0) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_retry": -1}, "max_retry must be >= 0, got -1"),
        ({"retry_interval": -0.5}, "retry_interval must be >= 0"),
        ({"timeout": 0}, "timeout must be > 0 seconds"),
    ],
)
def test_connect_options_reject_bad_values(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        APIConnectOptions(**kwargs)  # type: ignore[arg-type]
