from __future__ import annotations

import base64
import struct
import zlib

import pytest
from livekit import rtc

from voxlane.agents.llm import (
    AgentHandoff,
    ChatContext,
    FunctionCall,
    FunctionCallOutput,
    ImageContent,
)
from voxlane.agents.llm._provider_format import encode_png_rgba, serialize_image

PNG_1PX = encode_png_rgba(1, 1, bytes([255, 0, 0, 255]))


def _call(cid: str, name: str = "lookup", args: str = '{"q": "x"}', t: float = 0.0) -> FunctionCall:
    return FunctionCall(call_id=cid, name=name, arguments=args, created_at=t)


def _out(cid: str, output: str = "res", t: float = 0.0, err: bool = False) -> FunctionCallOutput:
    return FunctionCallOutput(call_id=cid, name="lookup", output=output, is_error=err, created_at=t)


def _history() -> ChatContext:
    ctx = ChatContext.empty()
    ctx.add_message(role="system", content="You are terse.", created_at=1)
    ctx.add_message(role="user", content="find x and y", created_at=2)
    ctx.add_message(role="assistant", content="Looking.", created_at=3)
    ctx.insert(_call("c1", t=4))
    ctx.insert(_call("c2", args='{"q": "y"}', t=4.1))
    ctx.insert(_out("c2", "y-res", t=5))
    ctx.insert(_out("c1", "x-res", t=5.1, err=True))
    ctx.insert(AgentHandoff(old_agent_id="a", new_agent_id="b", created_at=5.5))
    ctx.add_message(role="assistant", content="Done.", created_at=6)
    ctx.add_message(role="user", content="thanks", created_at=7)
    return ctx


def test_openai_format_pairs_tool_calls_and_outputs() -> None:
    messages, extra = _history().to_provider_format("openai")
    assert extra.system_messages == []
    assert messages == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "find x and y"},
        {
            "role": "assistant",
            "content": "Looking.",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"q": "x"}'},
                },
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"q": "y"}'},
                },
            ],
        },
        # outputs follow their calls, in call order
        {"role": "tool", "tool_call_id": "c1", "content": "x-res"},
        {"role": "tool", "tool_call_id": "c2", "content": "y-res"},
        {"role": "assistant", "content": "Done."},
        {"role": "user", "content": "thanks"},
    ]


def test_openai_drops_orphans_and_standalone_calls() -> None:
    ctx = ChatContext.empty()
    ctx.add_message(role="user", content="hi", created_at=1)
    ctx.insert(_call("pending", t=2))  # no output yet: must not be sent
    ctx.insert(_out("ghost", t=3))  # no call: must not be sent
    ctx.insert(_call("c9", t=4))
    ctx.insert(_out("c9", "ok", t=5))
    messages, _ = ctx.to_provider_format("openai")
    assert messages == [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c9",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"q": "x"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c9", "content": "ok"},
    ]


def test_openai_images() -> None:
    ctx = ChatContext.empty()
    ctx.add_message(
        role="user",
        content=[
            "what is this?",
            ImageContent(image="https://example.com/cat.png", inference_detail="low"),
            ImageContent(image=PNG_1PX),
        ],
    )
    messages, _ = ctx.to_provider_format("openai")
    parts = messages[0]["content"]
    assert parts[0] == {"type": "text", "text": "what is this?"}
    assert parts[1] == {
        "type": "image_url",
        "image_url": {"url": "https://example.com/cat.png", "detail": "low"},
    }
    url = parts[2]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == PNG_1PX


def test_anthropic_format() -> None:
    messages, extra = _history().to_provider_format("anthropic")
    assert extra.system_messages == ["You are terse."]
    assert messages == [
        {"role": "user", "content": [{"type": "text", "text": "find x and y"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Looking."},
                {"type": "tool_use", "id": "c1", "name": "lookup", "input": {"q": "x"}},
                {"type": "tool_use", "id": "c2", "name": "lookup", "input": {"q": "y"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "c1", "content": "x-res", "is_error": True},
                {"type": "tool_result", "tool_use_id": "c2", "content": "y-res", "is_error": False},
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "Done."}]},
        {"role": "user", "content": [{"type": "text", "text": "thanks"}]},
    ]


def test_anthropic_merges_roles_and_injects_dummy_user() -> None:
    ctx = ChatContext.empty()
    ctx.add_message(role="developer", content="rules", created_at=0)
    ctx.add_message(role="assistant", content="Hello!", created_at=1)
    ctx.add_message(role="assistant", content="How can I help?", created_at=2)
    ctx.insert(_call("c1", args="not json", t=3))
    ctx.insert(_out("c1", t=4))
    ctx.add_message(role="user", content="one", created_at=5)
    ctx.add_message(role="user", content=["", "two"], created_at=6)
    ctx.add_message(role="user", content=[ImageContent(image=PNG_1PX)], created_at=7)
    messages, extra = ctx.to_provider_format("anthropic")
    assert extra.system_messages == ["rules"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"][0]["type"] == "text"
    assert [b["type"] for b in messages[1]["content"]] == ["text", "text", "tool_use"]
    assert messages[1]["content"][2]["input"] == {}
    blocks = messages[2]["content"]
    assert [b["type"] for b in blocks] == ["tool_result", "text", "text", "image"]
    assert blocks[3]["source"]["type"] == "base64"
    assert blocks[3]["source"]["media_type"] == "image/png"
    assert base64.b64decode(blocks[3]["source"]["data"]) == PNG_1PX

    no_dummy, _ = ctx.to_provider_format("anthropic", inject_dummy_user_message=False)
    assert no_dummy[0]["role"] == "assistant"
    empty, _ = ChatContext.empty().to_provider_format("anthropic")
    assert [m["role"] for m in empty] == ["user"]


def test_anthropic_url_image() -> None:
    ctx = ChatContext.empty()
    ctx.add_message(role="user", content=[ImageContent(image="https://x/y.jpg")])
    messages, _ = ctx.to_provider_format("anthropic")
    assert messages[0]["content"] == [
        {"type": "image", "source": {"type": "url", "url": "https://x/y.jpg"}}
    ]


def test_images_from_video_frames_and_errors() -> None:
    rgba = bytes([10, 20, 30, 255] * 4)
    frame = rtc.VideoFrame(2, 2, rtc.VideoBufferType.RGBA, rgba)
    img = serialize_image(ImageContent(image=frame))
    assert img.mime_type == "image/png" and img.data is not None
    png = base64.b64decode(img.data)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (2, 2)
    idat_len = struct.unpack(">I", png[33:37])[0]
    raw = zlib.decompress(png[41 : 41 + idat_len])
    assert raw == (b"\x00" + rgba[:8]) * 2

    bgra = rtc.VideoFrame(2, 2, rtc.VideoBufferType.BGRA, bytes([30, 20, 10, 255] * 4))
    png2 = base64.b64decode(serialize_image(ImageContent(image=bgra)).data or "")
    assert png2 == png

    with pytest.raises(ValueError, match="cannot encode a ABGR video frame"):
        serialize_image(ImageContent(image=rtc.VideoFrame(2, 2, rtc.VideoBufferType.ABGR, rgba)))
    with pytest.raises(ValueError, match="mime_type"):
        serialize_image(ImageContent(image=b"not an image"))
    assert (
        serialize_image(ImageContent(image=b"raw", mime_type="image/heic")).mime_type
        == "image/heic"
    )
    data_url = "data:image/jpeg;base64,AAAA"
    s = serialize_image(ImageContent(image=data_url))
    assert (s.mime_type, s.data, s.data_url) == ("image/jpeg", "AAAA", data_url)
    with pytest.raises(ValueError, match="base64"):
        serialize_image(ImageContent(image="data:text/plain,hello"))


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown provider format 'gemini'"):
        ChatContext.empty().to_provider_format("gemini")
