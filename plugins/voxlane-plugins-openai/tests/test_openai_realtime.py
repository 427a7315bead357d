"""openai.realtime against the local fake Realtime websocket server."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
import vx_openai_realtime_fake as rf
from livekit import rtc

from voxlane.agents import llm
from voxlane.agents.llm import ChatContext, FunctionCallOutput, function_tool
from voxlane.agents.metrics import RealtimeModelMetrics
from voxlane.agents.types import APIConnectOptions
from voxlane.plugins.openai import realtime

FAST = APIConnectOptions(max_retry=2, retry_interval=0.01, timeout=2.0)


@function_tool
async def get_weather(city: str) -> str:
    """Weather of a city."""
    return f"sunny in {city}"


def make_model(server: rf.FakeRealtimeServer, **kwargs: Any) -> realtime.RealtimeModel:
    return realtime.RealtimeModel(
        api_key="sk-rt-secret", base_url=server.base_url, conn_options=FAST, **kwargs
    )


def frames(seconds: float, *, loud: bool, rate: int = 16000) -> list[rtc.AudioFrame]:
    per = rate // 50  # 20 ms frames
    out = []
    for _ in range(round(seconds * 50)):
        if loud:
            t = np.arange(per) / rate
            pcm = (np.sin(2 * np.pi * 300 * t) * 9000).astype(np.int16)
        else:
            pcm = np.zeros(per, dtype=np.int16)
        out.append(
            rtc.AudioFrame(
                data=pcm.tobytes(), sample_rate=rate, num_channels=1, samples_per_channel=per
            )
        )
    return out


class Recorder:
    def __init__(self, sess: realtime.RealtimeSession) -> None:
        self.events: list[tuple[str, Any]] = []
        self.generations: asyncio.Queue[llm.GenerationCreatedEvent] = asyncio.Queue()
        for name in (
            "input_speech_started",
            "input_speech_stopped",
            "input_audio_transcription_completed",
            "generation_created",
            "session_reconnected",
            "metrics_collected",
            "error",
            "close",
        ):
            sess.on(name, self._make(name))

    def _make(self, name: str) -> Any:
        def cb(ev: Any) -> None:
            self.events.append((name, ev))
            if name == "generation_created":
                self.generations.put_nowait(ev)

        return cb

    def names(self) -> list[str]:
        return [n for n, _ in self.events if n != "metrics_collected"]

    def of(self, name: str) -> list[Any]:
        return [e for n, e in self.events if n == name]


async def drain(
    gen: llm.GenerationCreatedEvent,
) -> tuple[list[tuple[str, str, int, list[str]]], list[llm.FunctionCall]]:
    messages = []
    async for msg in gen.message_stream:

        async def text(stream: AsyncIterator[str]) -> str:
            return "".join([t async for t in stream])

        async def audio(stream: AsyncIterator[rtc.AudioFrame]) -> int:
            n = 0
            async for f in stream:
                assert f.sample_rate == 24000 and f.num_channels == 1
                n += f.samples_per_channel
            return n

        t, n = await asyncio.gather(text(msg.text_stream), audio(msg.audio_stream))  # type: ignore[arg-type]
        messages.append((msg.message_id, t, n, list(await msg.modalities)))
    calls = [c async for c in gen.function_stream]
    return messages, calls


async def test_session_config_and_resampled_audio(fake_realtime: rf.FakeRealtimeServer) -> None:
    async with make_model(fake_realtime, voice="cedar") as model:
        sess = model.session()
        await sess.update_instructions("be nice")
        await sess.update_tools([get_weather])
        await sess.wait_connected()
        await fake_realtime.wait_for("session.update", 3)
        assert fake_realtime.handshakes[0] == {
            "auth": "Bearer sk-rt-secret",
            "model": "gpt-realtime",
        }
        cfg = fake_realtime.session
        assert cfg["type"] == "realtime" and cfg["output_modalities"] == ["audio"]
        assert cfg["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
        assert cfg["audio"]["input"]["turn_detection"]["type"] == "server_vad"
        assert cfg["audio"]["input"]["transcription"] == {"model": "gpt-4o-mini-transcribe"}
        assert cfg["audio"]["output"]["voice"] == "cedar"
        assert cfg["instructions"] == "be nice"
        assert [t["name"] for t in cfg["tools"]] == ["get_weather"]
        assert cfg["tools"][0]["type"] == "function" and "parameters" in cfg["tools"][0]
        for f in frames(0.2, loud=False):
            sess.push_audio(f)
        sess.commit_audio()
        await fake_realtime.wait_for("input_audio_buffer.commit")
        pcm = b"".join(
            base64.b64decode(e["audio"]) for e in fake_realtime.of_type("input_audio_buffer.append")
        )
        # 200 ms of 16 kHz audio became ~200 ms of 24 kHz PCM16 (resampler latency aside)
        assert 0.8 * 9600 <= len(pcm) <= 9600
        assert "secret" not in repr(model)
        await sess.aclose()


async def test_server_vad_turn_with_function_call_then_reply(
    fake_realtime: rf.FakeRealtimeServer,
) -> None:
    fake_realtime.transcripts.append("what is the weather in Paris")
    fake_realtime.responses.extend(
        [
            rf.ScriptedResponse(
                text="Let me check",
                audio_ms=300,
                function_calls=[("get_weather", '{"city": "Paris"}', "call_w")],
            ),
            rf.ScriptedResponse(text="It is sunny in Paris", audio_ms=200),
        ]
    )
    async with make_model(fake_realtime) as model:
        sess = model.session()
        rec = Recorder(sess)
        await sess.update_tools([get_weather])
        await sess.wait_connected()
        for f in frames(0.4, loud=True) + frames(0.4, loud=False):
            sess.push_audio(f)
        gen = await asyncio.wait_for(rec.generations.get(), 5)
        assert not gen.user_initiated and gen.response_id
        messages, calls = await drain(gen)
        assert [(t, n, m) for _, t, n, m in messages] == [
            ("Let me check", 3 * 2400, ["audio", "text"])
        ]
        assert [(c.name, c.arguments, c.call_id) for c in calls] == [
            ("get_weather", '{"city": "Paris"}', "call_w")
        ]
        assert rec.names()[:4] == [
            "input_speech_started",
            "input_speech_stopped",
            "input_audio_transcription_completed",
            "input_audio_transcription_completed",
        ]
        finals = [e for e in rec.of("input_audio_transcription_completed") if e.is_final]
        assert [e.transcript for e in finals] == ["what is the weather in Paris"]
        # the runtime's part: run the tool, give the output back, ask for the follow-up
        ctx = sess.chat_ctx
        assert [(i.type, getattr(i, "role", None)) for i in ctx.items] == [
            ("message", "user"),
            ("message", "assistant"),
            ("function_call", None),
        ]
        assert ctx.items[0].text_content == "what is the weather in Paris"  # type: ignore[union-attr]
        ctx.insert(
            FunctionCallOutput(call_id="call_w", name="get_weather", output="sunny", is_error=False)
        )
        await sess.update_chat_ctx(ctx)
        reply = await sess.generate_reply(instructions="answer now")
        assert reply.user_initiated
        messages, calls = await drain(reply)
        assert [t for _, t, _, _ in messages] == ["It is sunny in Paris"] and calls == []
        [created] = [e for e in fake_realtime.of_type("conversation.item.create")]
        assert created["item"] == {
            "id": ctx.items[-1].id,
            "type": "function_call_output",
            "call_id": "call_w",
            "output": "sunny",
        }
        [resp_create] = fake_realtime.of_type("response.create")
        assert resp_create["response"]["instructions"] == "answer now"
        metrics = rec.of("metrics_collected")
        assert len(metrics) == 2 and all(isinstance(m, RealtimeModelMetrics) for m in metrics)
        assert metrics[0].input_tokens == 20 and not metrics[0].cancelled
        await sess.aclose()


async def test_interrupt_and_truncate(fake_realtime: rf.FakeRealtimeServer) -> None:
    fake_realtime.responses.append(
        rf.ScriptedResponse(
            text="Once upon a time there was a fox", audio_ms=2000, chunk_delay=0.05
        )
    )
    async with make_model(fake_realtime, turn_detection=None) as model:
        sess = model.session()
        rec = Recorder(sess)
        gen = await sess.generate_reply()
        msg = await gen.message_stream.__anext__()
        first = await msg.audio_stream.__anext__()  # type: ignore[attr-defined]
        assert first.samples_per_channel == 2400
        sess.interrupt()
        sess.truncate(
            message_id=msg.message_id,
            modalities=["audio", "text"],
            audio_end_ms=100,
            audio_transcript="Once",
        )
        rest = [f async for f in msg.audio_stream]
        assert 1 + len(rest) < 20  # the 2 s answer was cut short
        await fake_realtime.wait_for("conversation.item.truncate")
        [trunc] = fake_realtime.of_type("conversation.item.truncate")
        assert (
            trunc["item_id"] == msg.message_id
            and trunc["audio_end_ms"] == 100
            and trunc["content_index"] == 0
        )
        assert len(fake_realtime.of_type("response.cancel")) == 1
        for _ in range(50):
            if rec.of("metrics_collected"):
                break
            await asyncio.sleep(0.02)
        assert rec.of("metrics_collected")[0].cancelled
        item = sess.chat_ctx.get_by_id(msg.message_id)
        assert item is not None and item.text_content == "Once"  # type: ignore[union-attr]
        # interrupting while idle sends nothing
        sess.interrupt()
        assert not rec.of("error")
        await sess.aclose()


async def test_server_vad_barge_in_cancels_the_response(
    fake_realtime: rf.FakeRealtimeServer,
) -> None:
    fake_realtime.responses.append(
        rf.ScriptedResponse(text="a long answer " * 5, audio_ms=3000, chunk_delay=0.05)
    )
    async with make_model(fake_realtime) as model:
        sess = model.session()
        rec = Recorder(sess)
        gen = await sess.generate_reply()
        msg = await gen.message_stream.__anext__()
        await msg.audio_stream.__anext__()  # type: ignore[attr-defined]
        for f in frames(0.1, loud=True):
            sess.push_audio(f)
        rest = [f async for f in msg.audio_stream]
        assert len(rest) < 29
        assert "input_speech_started" in rec.names()
        await sess.aclose()


async def test_reconnect_replays_the_conversation(fake_realtime: rf.FakeRealtimeServer) -> None:
    fake_realtime.responses.append(rf.ScriptedResponse(text="hello", audio_ms=100))
    async with make_model(fake_realtime, turn_detection=None) as model:
        sess = model.session()
        rec = Recorder(sess)
        await sess.update_instructions("stay calm")
        ctx = ChatContext.empty()
        ctx.add_message(role="system", content="not sent as an item")
        ctx.add_message(role="user", content="hi there")
        await sess.update_chat_ctx(ctx)
        await drain(await sess.generate_reply())
        before = [(i.type, getattr(i, "role", None)) for i in sess.chat_ctx.items]
        assert before == [("message", "user"), ("message", "assistant")]
        await fake_realtime.drop()
        for _ in range(100):
            if rec.of("session_reconnected"):
                break
            await asyncio.sleep(0.02)
        assert rec.of("session_reconnected")
        assert len(fake_realtime.handshakes) == 2
        updates = fake_realtime.of_type("session.update")
        assert updates[-1]["session"]["instructions"] == "stay calm"
        replayed = fake_realtime.of_type("conversation.item.create")[1:]
        assert [(e["item"]["role"], e["item"]["content"][0]) for e in replayed] == [
            ("user", {"type": "input_text", "text": "hi there"}),
            ("assistant", {"type": "output_text", "text": "hello"}),
        ]
        assert [(i.type, getattr(i, "role", None)) for i in sess.chat_ctx.items] == before
        await sess.aclose()


async def test_update_chat_ctx_deletes_and_inserts(fake_realtime: rf.FakeRealtimeServer) -> None:
    async with make_model(fake_realtime, turn_detection=None) as model:
        sess = model.session()
        ctx = ChatContext.empty()
        a = ctx.add_message(role="user", content="a")
        b = ctx.add_message(role="assistant", content="b")
        await sess.update_chat_ctx(ctx)
        new = ChatContext([a])
        c = new.add_message(role="user", content="c")
        await sess.update_chat_ctx(new)
        await fake_realtime.wait_for("conversation.item.create", 3)
        [deleted] = fake_realtime.of_type("conversation.item.delete")
        assert deleted["item_id"] == b.id
        last = fake_realtime.of_type("conversation.item.create")[-1]
        assert last["item"]["id"] == c.id and last["previous_item_id"] == a.id
        assert [i.id for i in sess.chat_ctx.items] == [a.id, c.id]
        sess.update_options(tool_choice="required")
        await fake_realtime.wait_for("session.update", 2)
        assert fake_realtime.of_type("session.update")[-1]["session"]["tool_choice"] == "required"
        await sess.aclose()


async def test_generate_reply_timeout_and_error(fake_realtime: rf.FakeRealtimeServer) -> None:
    fake_realtime.responses.append(rf.ScriptedResponse(ignore=True))
    async with make_model(fake_realtime, turn_detection=None, generate_reply_timeout=0.2) as model:
        sess = model.session()
        with pytest.raises(llm.RealtimeError, match=r"response\.created"):
            await sess.generate_reply()
        await sess.aclose()


async def test_handshake_refused_closes_the_session(fake_realtime: rf.FakeRealtimeServer) -> None:
    fake_realtime.reject_status = 401
    async with make_model(fake_realtime) as model:
        sess = model.session()
        rec = Recorder(sess)
        for _ in range(100):
            if rec.of("close"):
                break
            await asyncio.sleep(0.02)
        [err] = rec.of("error")
        assert not err.recoverable and "401" in str(err.error)
        assert len(fake_realtime.handshakes) == 1  # 401 is not retried
        await sess.aclose()


def test_construction_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        realtime.RealtimeModel()
    with pytest.raises(ValueError, match="modalities"):
        realtime.RealtimeModel(api_key="k", modalities=["video"])  # type: ignore[list-item]
    model = realtime.RealtimeModel(api_key="k", turn_detection=None, input_audio_transcription=None)
    assert not model.capabilities.turn_detection and not model.capabilities.user_transcription
    assert model.capabilities.message_truncation and model.capabilities.audio_output


async def test_malformed_frames_are_skipped_and_errors_reach_the_caller(
    fake_realtime: rf.FakeRealtimeServer,
) -> None:
    fake_realtime.responses.extend(
        [rf.ScriptedResponse(reject="invalid_value"), rf.ScriptedResponse(text="fine")]
    )
    async with make_model(fake_realtime, turn_detection=None, modalities=["text"]) as model:
        sess = model.session()
        rec = Recorder(sess)
        await sess.wait_connected()
        await fake_realtime.wait_for("session.update")
        await fake_realtime.send_raw("{not json")
        await fake_realtime.send_raw('{"type": "response.output_text.delta", "item_id": "unknown"}')
        with pytest.raises(llm.RealtimeError, match="invalid_value"):
            await sess.generate_reply()
        assert [e.recoverable for e in rec.of("error")] == [True]
        # the session still works after both
        messages, _ = await drain(await sess.generate_reply())
        assert [(t, n, m) for _, t, n, m in messages] == [("fine", 0, ["text"])]
        assert fake_realtime.session["output_modalities"] == ["text"]
        await sess.aclose()


async def test_updates_made_while_disconnected_are_applied_once(
    fake_realtime: rf.FakeRealtimeServer,
) -> None:
    # while the socket is down the conversation and instructions change; the reconnect's
    # session.update and replay carry them, so nothing queued meanwhile is sent a second time
    opts = APIConnectOptions(max_retry=20, retry_interval=0.05, timeout=2.0)
    async with realtime.RealtimeModel(
        api_key="sk-rt-secret", base_url=fake_realtime.base_url, conn_options=opts
    ) as model:
        sess = model.session()
        rec = Recorder(sess)
        ctx = ChatContext.empty()
        first = ctx.add_message(role="user", content="hi there")
        await sess.update_chat_ctx(ctx)
        await fake_realtime.wait_for("conversation.item.create", 1)
        fake_realtime.reject_status = 503
        await fake_realtime.drop()
        for _ in range(200):  # a refused reconnect: the session is now disconnected
            if any("503" in str(e.error) for e in rec.of("error")):
                break
            await asyncio.sleep(0.01)
        assert any("503" in str(e.error) for e in rec.of("error"))
        new_ctx = sess.chat_ctx
        new_ctx.items.remove(new_ctx.items[0])
        added = new_ctx.add_message(role="user", content="are you still there?")
        await sess.update_chat_ctx(new_ctx)
        await sess.update_instructions("be quick")
        for f in frames(0.2, loud=True):
            sess.push_audio(f)
        sess.commit_audio()
        fake_realtime.reject_status = None
        for _ in range(200):
            if rec.of("session_reconnected"):
                break
            await asyncio.sleep(0.01)
        assert rec.of("session_reconnected")
        await fake_realtime.wait_for("input_audio_buffer.commit")
        creates = [e["item"]["id"] for e in fake_realtime.of_type("conversation.item.create")]
        assert creates == [first.id, added.id]  # the deleted item is not replayed
        assert fake_realtime.of_type("conversation.item.delete") == []
        assert fake_realtime.of_type("session.update")[-1]["session"]["instructions"] == "be quick"
        assert len(fake_realtime.of_type("input_audio_buffer.append")) >= 1  # audio is kept
        ids = [i.id for i in sess.chat_ctx.items]  # then the committed audio's user item
        assert ids[0] == added.id and first.id not in ids
        await sess.aclose()
