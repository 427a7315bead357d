"""What the Cartesia STT and TTS share: the API description and its authentication headers.

Key lookup, URLs, error mapping and websocket opening come from
:class:`voxlane.agents.utils.provider.ProviderAPI` and ``ProviderClient``.
"""

from __future__ import annotations

from voxlane.agents.utils.provider import ProviderAPI

DEFAULT_BASE_URL = "https://api.cartesia.ai"
API_VERSION = "2025-04-16"


def auth_headers(api_key: str) -> dict[str, str]:
    """Cartesia takes the key in ``X-API-Key`` and pins the API version."""
    return {"X-API-Key": api_key, "Cartesia-Version": API_VERSION}


API = ProviderAPI(
    name="Cartesia",
    api_key_env="CARTESIA_API_KEY",
    default_base_url=DEFAULT_BASE_URL,
    key_help_url="https://play.cartesia.ai",
    request_id_header="x-request-id",
    error_message_keys=("message", "error", "title", "detail"),
    auth_headers=auth_headers,
)
