"""Turning an :class:`ImageContent` into a URL or base64 payload for provider APIs."""

from __future__ import annotations

import base64
import struct
import zlib
from dataclasses import dataclass

from livekit import rtc

from ..chat_context import ImageContent

# conversions to RGBA that livekit's converter supports
_CONVERTIBLE = ("BGRA", "I420", "I420A", "I422", "I444", "NV12")


@dataclass(frozen=True)
class SerializedImage:
    """Either ``url`` (a remote URL) or ``data`` (base64) with its ``mime_type``."""

    url: str | None = None
    mime_type: str | None = None
    data: str | None = None

    @property
    def data_url(self) -> str:
        if self.url is not None:
            return self.url
        return f"data:{self.mime_type};base64,{self.data}"


def _sniff_mime(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


def encode_png_rgba(width: int, height: int, rgba: bytes) -> bytes:
    """A minimal PNG (8-bit RGBA, no filtering) of raw RGBA pixels."""
    stride = width * 4
    if len(rgba) < stride * height:
        raise ValueError(f"RGBA buffer too small for {width}x{height}: {len(rgba)} bytes")
    rows = b"".join(b"\x00" + rgba[y * stride : (y + 1) * stride] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(rows, 6))
        + _png_chunk(b"IEND", b"")
    )


def _video_frame_png(frame: rtc.VideoFrame) -> bytes:
    type_name = rtc.VideoBufferType.Name(frame.type)
    if type_name != "RGBA":
        if type_name not in _CONVERTIBLE:
            raise ValueError(
                f"cannot encode a {type_name} video frame as an image; "
                f"convert it to RGBA (or one of {', '.join(_CONVERTIBLE)}) first"
            )
        frame = frame.convert(rtc.VideoBufferType.RGBA)
    return encode_png_rgba(frame.width, frame.height, bytes(frame.data))


def serialize_image(image: ImageContent) -> SerializedImage:
    """URL images stay URLs; data URLs, bytes and video frames become base64 data.

    Raises ``ValueError`` for bytes of an unknown image type without ``mime_type``.
    """
    src = image.image
    if isinstance(src, str):
        if src.startswith("data:"):
            head, sep, data = src.partition(",")
            if not sep or ";base64" not in head:
                raise ValueError("image data URLs must be base64 encoded (data:<mime>;base64,...)")
            mime = head[len("data:") :].split(";")[0] or image.mime_type or "image/png"
            return SerializedImage(mime_type=mime, data=data)
        return SerializedImage(url=src, mime_type=image.mime_type)
    if isinstance(src, (bytes, bytearray)):
        bytes_mime = image.mime_type or _sniff_mime(bytes(src))
        if bytes_mime is None:
            raise ValueError(
                "unknown image format: pass ImageContent(mime_type=...) with raw image bytes"
            )
        return SerializedImage(mime_type=bytes_mime, data=base64.b64encode(src).decode("ascii"))
    png = _video_frame_png(src)
    return SerializedImage(mime_type="image/png", data=base64.b64encode(png).decode("ascii"))
