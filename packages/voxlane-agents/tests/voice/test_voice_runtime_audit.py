"""Runtime behaviour the other voice tests leave out (found in the issue 4 audit).

Tool-step cap with a model that ignores tool_choice, interruption thresholds, the agent hooks
and mutators on a running pipeline agent, say() options, min_consecutive_speech_delay,
per-agent models and provider strings, turn-detection selection, bare handoffs and AgentTask
in on_enter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import pytest
from livekit import rtc

from voxlane.agents import APIConnectionError
from voxlane.agents.llm import ChatContext, ChatMessage, StopResponse, function_tool
from voxlane.agents.plugin import hookimpl
from voxlane.agents.plugin.manager import register_plugin, unregister_plugin
from voxlane.agents.testing import FakeRealtimeModel, FakeResponse, FakeToolCall
from voxlane.agents.testing.fakes import (
    FakeLLM,
    FakeSTT,
    FakeTTS,
    FakeVAD,
    ScriptedTranscript,
    audio_pattern,
)
from voxlane.agents.voice import Agent, AgentSession, AgentTask, ModelSettings, SpeechHandle

pytestmark = pytest.mark.virtual_clock


class Looper(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="loop")
        self.runs = 0

    @function_tool
    async def again(self) -> str:
        """Do it again."""
        self.runs += 1
        return "done once more"


async def test_tool_steps_stop_when_the_llm_ignores_tool_choice_none(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # a model that calls the tool on every request, whatever tool_choice says
    llm = FakeLLM(default=FakeResponse(tool_calls=[FakeToolCall("again")]))
    session: AgentSession[None] = AgentSession(llm=llm, max_tool_steps=2)
    agent = Looper()
    await session.start(agent)
    handles: list[SpeechHandle] = []
    session.on("speech_created", lambda ev: handles.append(ev.speech_handle))
    handle = session.generate_reply(user_input="go")
    await handle
    await session.drain()
    assert [c.tool_choice for c in llm.calls][-1] == "none"
    assert len(llm.calls) == 3  # steps 0 and 1 may call tools, step 2 is the forced "none"
    assert agent.runs == 3  # the last step's calls ran and are recorded, but not answered
    # each tool reply is a child speech of the previous step
    assert [h.step_index for h in handles] == [0, 1, 2]
    assert [h.parent for h in handles] == [None, handles[0], handles[1]]
    assert "max_tool_steps (2)" in caplog.text
    await session.aclose()


async def test_realtime_tool_steps_stop_when_the_model_ignores_tool_choice() -> None:
    model = FakeRealtimeModel(default=FakeResponse(tool_calls=[FakeToolCall("again")]))
    session: AgentSession[None] = AgentSession(llm=model, max_tool_steps=2, user_away_timeout=None)
    agent = Looper()
    await session.start(agent)
    handle = session.generate_reply(user_input="go")
    await handle
    await session.drain()
    assert agent.runs == 3
    rt = model.sessions[0]
    # the first request plus one answer per allowed tool step; the last one without tools
    assert [c.tool_choice for c in rt.generate_reply_calls][-1] == "none"
    assert len(rt.generate_reply_calls) == 3
    await session.aclose()


async def _speaking_session(
    vh: Any, transcript: str, *, speech: tuple[float, float] = (1.0, 2.0), **opts: Any
) -> tuple[AgentSession[None], Any, Any]:
    """A session saying a long sentence; the user speaks during ``speech`` (seconds)."""
    session: AgentSession[None] = AgentSession(
        vad=FakeVAD(segments=[speech]),
        stt=FakeSTT([ScriptedTranscript(transcript, *speech)] if transcript else []),
        llm=vh.ScriptedLLM(["ok then"]),
        tts=FakeTTS(seconds_per_char=0.1),
        user_away_timeout=None,
        **opts,
    )
    audio_in = vh.QueueAudioInput()
    session.input.audio = audio_in
    session.output.audio = vh.MemoryAudioOutput()
    await session.start(Agent(instructions="a"))
    return session, audio_in, session.say("a long sentence that the agent keeps saying for a while")


async def test_min_interruption_words_needs_enough_words(vh: Any) -> None:
    session, audio_in, handle = await _speaking_session(
        vh, "stop", min_interruption_words=3, min_interruption_duration=0.2
    )
    audio_in.push(audio_pattern([(1.0, False), (1.0, True), (6.0, False)]))
    await asyncio.sleep(9.0)
    assert not handle.interrupted  # one word is not enough
    assert [h[0] for h in vh.history(session.history)] == ["assistant"]
    await session.aclose()

    session, audio_in, handle = await _speaking_session(
        vh, "stop it right now", min_interruption_words=3, min_interruption_duration=0.2
    )
    audio_in.push(audio_pattern([(1.0, False), (1.0, True), (6.0, False)]))
    await asyncio.sleep(9.0)
    assert handle.interrupted
    hist = vh.history(session.history)
    assert hist[0][0] == "assistant" and hist[0][2] == "interrupted"
    assert hist[1:] == [("user", "stop it right now"), ("assistant", "ok then", "complete")]
    await session.aclose()


async def test_only_speech_as_long_as_min_interruption_duration_interrupts(vh: Any) -> None:
    for seconds, interrupted in ((0.3, False), (0.7, True)):
        session, audio_in, handle = await _speaking_session(
            vh,
            "",
            speech=(1.0, 1.0 + seconds),
            min_interruption_duration=0.5,
            resume_false_interruption=False,
        )
        audio_in.push(audio_pattern([(1.0, False), (seconds, True), (6.0, False)]))
        await handle
        assert handle.interrupted is interrupted, seconds
        await session.aclose()


class EditingAgent(Agent):
    async def on_user_turn_completed(self, turn_ctx: ChatContext, new_message: ChatMessage) -> None:
        text = new_message.text_content or ""
        if "never mind" in text:
            raise StopResponse()
        new_message.content = [text.upper()]
        turn_ctx.add_message(role="system", content="retrieved: opening hours 9-17")


async def test_on_user_turn_completed_edits_the_turn_or_stops_the_reply(vh: Any) -> None:
    llm = vh.ScriptedLLM(["we open at nine"])
    session: AgentSession[None] = AgentSession(
        vad=FakeVAD(segments=[(0.2, 1.0), (4.0, 5.0)]),
        stt=FakeSTT(
            [
                ScriptedTranscript("when do you open", 0.2, 1.0),
                ScriptedTranscript("never mind", 4.0, 5.0),
            ]
        ),
        llm=llm,
        tts=FakeTTS(),
        user_away_timeout=None,
    )
    audio_in = vh.QueueAudioInput()
    session.input.audio = audio_in
    session.output.audio = vh.MemoryAudioOutput()
    await session.start(EditingAgent(instructions="a"))
    audio_in.push(
        audio_pattern([(0.2, False), (0.8, True), (3.0, False), (1.0, True), (3.0, False)])
    )
    await asyncio.sleep(9.0)
    sent = [(i.role, i.text_content) for i in llm.calls[0].chat_ctx.items if i.type == "message"]
    assert sent[-2:] == [("user", "WHEN DO YOU OPEN"), ("system", "retrieved: opening hours 9-17")]
    assert len(llm.calls) == 1  # StopResponse: no reply to "never mind"
    assert vh.history(session.history) == [
        ("user", "WHEN DO YOU OPEN"),
        ("assistant", "we open at nine", "complete"),
        ("user", "never mind"),
    ]
    await session.aclose()


@function_tool
async def opening_hours() -> str:
    """The shop's opening hours."""
    return "9-17"


async def test_update_instructions_tools_and_chat_ctx_apply_to_the_next_reply(vh: Any) -> None:
    llm = vh.ScriptedLLM(["first", "second"])
    session: AgentSession[None] = AgentSession(llm=llm)
    agent = Agent(instructions="old instructions")
    await session.start(agent)
    await session.generate_reply(user_input="hello")
    assert llm.calls[0].tools == []
    await agent.update_instructions("new instructions")
    await agent.update_tools([opening_hours, opening_hours])
    ctx = agent.chat_ctx.copy()
    ctx.add_message(role="user", content="added by update_chat_ctx")
    await agent.update_chat_ctx(ctx)
    await session.generate_reply()
    sent = [(i.role, i.text_content) for i in llm.calls[1].chat_ctx.items if i.type == "message"]
    assert sent == [
        ("system", "new instructions"),
        ("user", "hello"),
        ("assistant", "first"),
        ("user", "added by update_chat_ctx"),
    ]
    assert [t.info.name for t in llm.calls[1].tools] == ["opening_hours"]
    assert agent.instructions == "new instructions"
    with pytest.raises(TypeError, match="ChatContext"):
        await agent.update_chat_ctx([])  # type: ignore[arg-type]
    await session.aclose()


async def test_say_options_current_speech_and_min_consecutive_speech_delay(vh: Any) -> None:
    session: AgentSession[None] = AgentSession(min_consecutive_speech_delay=1.5)
    text_out = vh.MemoryTextOutput()
    session.output.transcription = text_out
    await session.start(Agent(instructions="x"))
    loop = asyncio.get_running_loop()

    async def parts() -> AsyncIterator[str]:
        yield "streamed "
        yield "text"

    first = session.say("not in history", add_to_chat_ctx=False)
    second = session.say(parts())
    await asyncio.sleep(0)
    assert session.current_speech is first
    await first
    ended = loop.time()
    await second
    assert loop.time() - ended == pytest.approx(1.5, abs=1e-6)
    assert session.current_speech is None
    assert text_out.segments == ["not in history", "streamed text"]
    assert vh.history(session.history) == [("assistant", "streamed text", "complete")]
    assert second.chat_message is not None and first.chat_message is None
    await session.aclose()


async def test_agent_models_and_options_override_the_sessions(vh: Any) -> None:
    session_tts, agent_tts = FakeTTS(), FakeTTS()
    session: AgentSession[None] = AgentSession(tts=session_tts, allow_interruptions=True)
    session.output.audio = vh.MemoryAudioOutput()
    agent = Agent(instructions="a", tts=agent_tts, allow_interruptions=False)
    await session.start(agent)
    handle = session.say("hello")
    await handle
    assert agent_tts.requests == ["hello"] and session_tts.requests == []
    assert handle.allow_interruptions is False
    # an agent that sets nothing uses the session's values
    session.update_agent(Agent(instructions="b"))
    await session.drain()
    handle = session.say("bye")
    await handle
    assert session_tts.requests == ["bye"]
    assert handle.allow_interruptions is True
    await session.aclose()


class _ProbePlugin:
    @hookimpl
    def register_providers(self, registry: Any) -> None:
        registry.register("stt", "auditfake", lambda **kw: FakeSTT([]), models=None)
        registry.register("tts", "auditfake", lambda **kw: FakeTTS(), models=None)
        registry.register("vad", "auditfake", lambda **kw: FakeVAD(segments=[]), models=None)
        registry.register("llm", "auditfake", lambda **kw: FakeLLM(default="from a string"))


async def test_provider_strings_for_session_and_agent_models() -> None:
    register_plugin(_ProbePlugin(), name="voice_audit_fakes")
    try:
        session: AgentSession[None] = AgentSession(
            stt="auditfake/a", tts="auditfake/b", vad="auditfake/c", llm="auditfake"
        )
        agent = Agent(instructions="a", stt="auditfake/a", tts="auditfake", vad="auditfake/x")
        assert isinstance(session.stt, FakeSTT) and isinstance(session.tts, FakeTTS)
        assert isinstance(session.vad, FakeVAD) and isinstance(session.llm, FakeLLM)
        assert isinstance(agent.stt, FakeSTT) and isinstance(agent.tts, FakeTTS)
        assert isinstance(agent.vad, FakeVAD)
        assert agent.stt is not session.stt
        await session.start(Agent(instructions="x", llm="auditfake"))
        handle = session.generate_reply(user_input="hi")
        await handle
        assert handle.chat_message is not None
        assert handle.chat_message.text_content == "from a string"
        await session.aclose()
        with pytest.raises(Exception, match="no llm provider named 'nosuchprovider'"):
            AgentSession(llm="nosuchprovider/model")
    finally:
        unregister_plugin("voice_audit_fakes")


@pytest.mark.parametrize(
    ("models", "requested", "expected"),
    [
        ({"vad": True, "stt": True}, None, "vad"),
        ({"stt": True}, None, "stt"),
        ({}, None, "manual"),
        ({"stt": True, "realtime": True}, None, "realtime_llm"),
        ({"stt": True}, "vad", "stt"),  # no VAD: falls back, with a warning
        ({"vad": True, "stt": True}, "stt", "stt"),
        ({"vad": True, "stt": True}, "manual", "manual"),
    ],
)
async def test_turn_detection_is_chosen_in_priority_order(
    models: dict[str, bool],
    requested: str | None,
    expected: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="voxlane.agents.voice")
    kwargs: dict[str, Any] = {"user_away_timeout": None}
    if models.get("vad"):
        kwargs["vad"] = FakeVAD(segments=[])
    if models.get("stt"):
        kwargs["stt"] = FakeSTT([])
    if models.get("realtime"):
        kwargs["llm"] = FakeRealtimeModel()
    if requested is not None:
        kwargs["turn_detection"] = requested
    session: AgentSession[None] = AgentSession(**kwargs)
    await session.start(Agent(instructions="x"))
    assert session._activity is not None
    assert session._activity.turn_detection == expected
    if requested == "vad" and expected != "vad":
        assert "turn_detection='vad' needs a VAD" in caplog.text
    await session.aclose()


class Specialist(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="specialist")


class Dispatcher(Agent):
    @function_tool
    async def to_specialist(self) -> Agent:
        """Hand the user to the specialist."""
        return Specialist()


async def test_handoff_by_returning_a_bare_agent_needs_no_reply(vh: Any) -> None:
    llm = vh.ScriptedLLM([vh.Reply(calls=[vh.Call("to_specialist")])])
    session: AgentSession[None] = AgentSession(llm=llm)
    await session.start(Dispatcher(instructions="dispatch"))
    await session.generate_reply(user_input="I need the specialist")
    await session.drain()
    assert isinstance(session.current_agent, Specialist)
    assert len(llm.calls) == 1  # the old agent does not answer a bare handoff
    assert vh.history(session.history)[-1] == ("handoff", "dispatcher", "specialist")
    await session.aclose()


class Consent(AgentTask[bool]):
    async def on_enter(self) -> None:
        self.complete(True)


class Onboarding(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="onboarding")
        self.results: list[Any] = []

    async def on_enter(self) -> None:
        self.results.append(await Consent(instructions="ask consent"))

    @function_tool
    async def ask_twice(self) -> str:
        """Misuse a task: await it twice and complete it twice."""
        task = Consent(instructions="ask consent")
        self.results.append(await task)
        for misuse in (lambda: task, lambda: task.complete(False)):
            try:
                await misuse()  # type: ignore[misc]
            except RuntimeError as e:
                self.results.append(str(e))
        return "ok"


async def test_agent_task_in_on_enter_and_its_misuse_errors(vh: Any) -> None:
    llm = vh.ScriptedLLM([vh.Reply(calls=[vh.Call("ask_twice")]), "all set"])
    session: AgentSession[None] = AgentSession(llm=llm)
    agent = Onboarding()
    await session.start(agent)
    assert await session.wait_for_inactive()  # on_enter (and the task it awaited) finished
    assert agent.results == [True]
    assert session.current_agent is agent
    await session.generate_reply(user_input="go")
    await session.drain()
    assert agent.results[1] is True
    assert "already awaited once" in agent.results[2]
    assert "complete() was called twice" in agent.results[3]
    assert session.current_agent is agent
    assert vh.history(session.history)[-1] == ("assistant", "all set", "complete")
    await session.aclose()


class EarAgent(Agent):
    """Records, for each frame its STT node receives, whether it carries sound."""

    def __init__(self) -> None:
        super().__init__(instructions="a")
        self.heard: list[bool] = []

    async def stt_node(
        self, audio: AsyncIterable[rtc.AudioFrame], model_settings: ModelSettings
    ) -> AsyncIterator[str]:
        async for frame in audio:
            self.heard.append(any(frame.data))
        if False:  # an async generator that yields no speech event
            yield ""


@pytest.mark.parametrize("discard", [True, False])
async def test_discard_audio_if_uninterruptible_decides_what_the_stt_hears(
    vh: Any, discard: bool
) -> None:
    session: AgentSession[None] = AgentSession(
        vad=FakeVAD(segments=[(0.5, 1.5)]),
        stt=FakeSTT([]),
        tts=FakeTTS(seconds_per_char=0.1),
        discard_audio_if_uninterruptible=discard,
        user_away_timeout=None,
    )
    audio_in = vh.QueueAudioInput()
    session.input.audio = audio_in
    session.output.audio = vh.MemoryAudioOutput()
    agent = EarAgent()
    await session.start(agent)
    handle = session.say("a message that must be heard to the end", allow_interruptions=False)
    audio_in.push(audio_pattern([(0.5, False), (1.0, True), (1.0, False)]))
    await handle
    assert not handle.interrupted
    assert len(agent.heard) == 125  # 2.5 s of 20 ms frames: the STT stream stays continuous
    assert any(agent.heard) is not discard
    # once the speech is over the STT hears the user again
    audio_in.push(audio_pattern([(0.5, True)]))
    await asyncio.sleep(1.0)
    assert len(agent.heard) == 150 and all(agent.heard[125:])
    await session.aclose()


async def _spoken_turn(vh: Any, tts: FakeTTS) -> tuple[AgentSession[None], Any, Any]:
    session: AgentSession[None] = AgentSession(
        vad=FakeVAD(segments=[(0.2, 1.0)]),
        stt=FakeSTT([ScriptedTranscript("hello", 0.2, 1.0)]),
        llm=vh.ScriptedLLM(["Hi there friend.", "Still here."]),
        tts=tts,
        user_away_timeout=None,
    )
    audio_in, audio_out = vh.QueueAudioInput(), vh.MemoryAudioOutput()
    session.input.audio, session.output.audio = audio_in, audio_out
    log = vh.EventLog(session)
    await session.start(Agent(instructions="x"))
    audio_in.push(audio_pattern([(0.2, False), (0.8, True), (3.0, False)]))
    await asyncio.sleep(5.0)
    return session, log, audio_out


async def test_tts_error_before_any_audio_is_retried(vh: Any) -> None:
    tts = FakeTTS()
    tts.fail_next(APIConnectionError("connection reset"), after=0.0)
    session, log, audio_out = await _spoken_turn(vh, tts)
    assert vh.history(session.history) == [
        ("user", "hello"),
        ("assistant", "Hi there friend.", "complete"),
    ]
    [error] = log.of("error")
    assert error.error.recoverable and error.source is tts
    assert audio_out.finished == [(pytest.approx(0.8, abs=1e-6), False)]
    await session.aclose()


async def test_tts_failing_mid_reply_keeps_the_reply_in_history(vh: Any) -> None:
    tts = FakeTTS()
    # audio already went out: the TTS cannot retry, the reply fails after 0.1 s of audio
    tts.fail_next(APIConnectionError("connection reset"), after=0.1)
    session, log, audio_out = await _spoken_turn(vh, tts)
    assert audio_out.finished == [(pytest.approx(0.1, abs=1e-6), False)]
    [error] = log.of("error")
    assert not error.error.recoverable and error.source is tts
    [created] = log.of("speech_created")
    assert created.speech_handle.exception() is error.error.error
    # the user heard the start of the reply: the history keeps it, marked as cut short
    assert vh.history(session.history) == [
        ("user", "hello"),
        ("assistant", "Hi there friend.", "interrupted"),
    ]
    handle = session.generate_reply()
    await handle
    assert handle.exception() is None
    assert vh.history(session.history)[-1] == ("assistant", "Still here.", "complete")
    assert log.of("close") == []
    await session.aclose()


async def test_words_during_a_paused_speech_interrupt_it_and_history_keeps_the_order(
    vh: Any,
) -> None:
    long_text = "a fairly long sentence that keeps going for a few seconds at least, on and on"
    session: AgentSession[None] = AgentSession(
        vad=FakeVAD(segments=[(1.0, 1.8)]),
        stt=FakeSTT([ScriptedTranscript("stop please", 1.0, 1.8)]),
        llm=vh.ScriptedLLM(["ok"]),
        tts=FakeTTS(seconds_per_char=0.05, chunk_duration=0.1),
        min_interruption_duration=0.3,
        false_interruption_timeout=1.0,
        user_away_timeout=None,
    )
    audio_in, audio_out = vh.QueueAudioInput(), vh.MemoryAudioOutput(can_pause=True)
    session.input.audio, session.output.audio = audio_in, audio_out
    session.output.transcription = vh.MemoryTextOutput()
    log = vh.EventLog(session)
    await session.start(Agent(instructions="x"))
    handle = session.say(long_text)
    audio_in.push(audio_pattern([(1.0, False), (0.8, True), (4.0, False)]))
    await handle
    await asyncio.sleep(4.0)
    assert audio_out.pauses == 1  # paused first (it might have been a false interruption)
    assert handle.interrupted  # then the user's committed turn cut it
    assert log.of("agent_false_interruption") == []
    hist = vh.history(session.history)
    # the assistant started before the user spoke: it stays first in the history
    assert [h[0] for h in hist] == ["assistant", "user", "assistant"]
    said = hist[0][1]
    assert hist[0][2] == "interrupted" and long_text.startswith(said)
    # the words played before the pause (about 1.4 s of 0.05 s per character)
    assert 20 <= len(said) <= 40
    assert hist[1:] == [("user", "stop please"), ("assistant", "ok", "complete")]
    await session.aclose()


class Announcer(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="announce")
        self.extra: list[Any] = []

    @function_tool
    async def announce(self) -> None:
        """Announce something, then end the reply."""
        self.extra.append(self.session.generate_reply(instructions="say it is done"))
        raise StopResponse()


async def test_generate_reply_inside_a_tool_defaults_to_no_tools(vh: Any) -> None:
    llm = vh.ScriptedLLM([vh.Reply(calls=[vh.Call("announce")]), "It is done."])
    session: AgentSession[None] = AgentSession(llm=llm)
    agent = Announcer()
    await session.start(agent)
    await session.generate_reply(user_input="announce it")
    [extra] = agent.extra
    await extra
    assert llm.calls[0].tool_choice != "none"
    assert llm.calls[1].tool_choice == "none"  # asked from inside a tool
    assert vh.history(session.history)[-1] == ("assistant", "It is done.", "complete")
    with pytest.raises(RuntimeError, match="needs an STT"):
        session.commit_user_turn()  # no STT reading the user's audio
    await session.aclose()


class TextEarAgent(Agent):
    """An stt_node yielding plain strings (each one a final transcript)."""

    async def stt_node(
        self, audio: AsyncIterable[rtc.AudioFrame], model_settings: ModelSettings
    ) -> AsyncIterator[str]:
        heard = 0.0
        async for frame in audio:
            heard += frame.samples_per_channel / frame.sample_rate
            if heard == pytest.approx(0.8):
                yield "book a table"


async def test_stt_node_may_yield_plain_strings(vh: Any) -> None:
    session: AgentSession[None] = AgentSession(
        vad=FakeVAD(segments=[(0.2, 1.0)]),
        stt=FakeSTT([]),
        llm=vh.ScriptedLLM(["for how many?"]),
        user_away_timeout=None,
    )
    audio_in = vh.QueueAudioInput()
    session.input.audio = audio_in
    log = vh.EventLog(session)
    await session.start(TextEarAgent(instructions="x"))
    audio_in.push(audio_pattern([(0.2, False), (0.8, True), (2.0, False)]))
    await asyncio.sleep(3.0)
    assert [e.transcript for e in log.of("user_input_transcribed")] == ["book a table"]
    assert vh.history(session.history) == [
        ("user", "book a table"),
        ("assistant", "for how many?", "complete"),
    ]
    await session.aclose()
