"""What the Deepgram STT and TTS share: the API description and its authentication header.

Key lookup, URLs, error mapping and websocket opening come from
:class:`voxlane.agents.utils.provider.ProviderAPI` and ``ProviderClient``.
"""

from __future__ import annotations

from voxlane.agents.utils.provider import ProviderAPI

DEFAULT_BASE_URL = "https://api.deepgram.com/v1"


def auth_headers(api_key: str) -> dict[str, str]:
    """Deepgram authenticates with ``Authorization: Token <key>``."""
    return {"Authorization": f"Token {api_key}"}


API = ProviderAPI(
    name="Deepgram",
    api_key_env="DEEPGRAM_API_KEY",
    default_base_url=DEFAULT_BASE_URL,
    key_help_url="https://console.deepgram.com",
    request_id_header="dg-request-id",
    error_message_keys=("err_msg", "message", "error", "reason"),
    auth_headers=auth_headers,
)
