"""Building the ``AsyncOpenAI`` client: API key resolution and SDK retries disabled."""

from __future__ import annotations

import os

import openai
from voxlane.agents.types import NotGivenOr, is_given

DEFAULT_BASE_URL_ENV = "OPENAI_BASE_URL"


def resolve_api_key(api_key: NotGivenOr[str | None], *, env: str, what: str) -> str:
    """The key given as an argument, else the one in ``env``; raise a clear error if neither."""
    key = api_key if is_given(api_key) else None
    if not key:
        key = os.environ.get(env) or None
    if not key:
        raise ValueError(
            f"{what} needs an API key: pass api_key=... or set the {env} environment variable "
            "(OpenAI-compatible servers that ignore keys accept any placeholder, e.g. "
            "api_key='none')"
        )
    return key


def make_client(
    *,
    api_key: NotGivenOr[str | None],
    base_url: NotGivenOr[str | None],
    api_key_env: str = "OPENAI_API_KEY",
    what: str = "OpenAI",
) -> openai.AsyncOpenAI:
    """An ``AsyncOpenAI`` client with the SDK's own retries disabled (the base classes retry)."""
    key = resolve_api_key(api_key, env=api_key_env, what=what)
    url = base_url if is_given(base_url) and base_url else None
    if url is None:
        url = os.environ.get(DEFAULT_BASE_URL_ENV) or None
    return openai.AsyncOpenAI(api_key=key, base_url=url, max_retries=0)


__all__ = ["make_client", "resolve_api_key"]
