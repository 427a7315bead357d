"""What the ElevenLabs STT and TTS share: the API description and its authentication header.

Key lookup, URLs, error mapping and websocket opening come from
:class:`voxlane.agents.utils.provider.ProviderAPI` and ``ProviderClient``.
"""

from __future__ import annotations

from voxlane.agents.utils.provider import ProviderAPI

DEFAULT_BASE_URL = "https://api.elevenlabs.io/v1"


def auth_headers(api_key: str) -> dict[str, str]:
    """ElevenLabs takes the key in ``xi-api-key``."""
    return {"xi-api-key": api_key}


API = ProviderAPI(
    name="ElevenLabs",
    api_key_env=("ELEVEN_API_KEY", "ELEVENLABS_API_KEY"),
    default_base_url=DEFAULT_BASE_URL,
    key_help_url="https://elevenlabs.io",
    request_id_header="request-id",
    error_message_keys=("message", "error", "detail", "status"),
    error_container_key="detail",
    auth_headers=auth_headers,
)
