"""``turn_handling=`` (LiveKit's newer spelling of the turn options) on AgentSession and Agent:
mapping onto ``session.options``, precedence and conflict rules, errors, and the behaviour the
options drive (endpointing delay, interruptions, preemptive generation limits)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from voxlane.agents.testing.fakes import (
    FakeLLM,
    FakeSTT,
    FakeTTS,
    FakeVAD,
    ScriptedTranscript,
    audio_pattern,
)
from voxlane.agents.types import NOT_GIVEN
from voxlane.agents.voice import Agent, AgentSession, AgentTask
from voxlane.agents.voice.io_impl import MemoryAudioOutput, QueueAudioInput
from voxlane.agents.voice.turn_handling import TurnHandlingOptions

pytestmark = pytest.mark.virtual_clock


# -- mapping onto session.options ------------------------------------------------------------


def test_turn_handling_sets_the_session_options() -> None:
    session: AgentSession[None] = AgentSession(
        turn_handling=TurnHandlingOptions(
            turn_detection="vad",
            endpointing={"mode": "fixed", "min_delay": 0.2, "max_delay": 2.5},
            interruption={
                "enabled": False,
                "mode": "vad",
                "discard_audio_if_uninterruptible": False,
                "min_duration": 0.8,
                "min_words": 2,
                "resume_false_interruption": False,
                "false_interruption_timeout": None,
            },
            preemptive_generation={"max_speech_duration": 4.0, "max_retries": 1},
        )
    )
    opts = session.options
    assert session.turn_detection == "vad" and opts.turn_detection == "vad"
    assert (opts.min_endpointing_delay, opts.max_endpointing_delay) == (0.2, 2.5)
    assert opts.allow_interruptions is False
    assert opts.discard_audio_if_uninterruptible is False
    assert (opts.min_interruption_duration, opts.min_interruption_words) == (0.8, 2)
    assert opts.resume_false_interruption is False and opts.false_interruption_timeout is None
    # giving the preemptive_generation section turns it on
    assert opts.preemptive_generation is True
    assert (opts.preemptive_max_speech_duration, opts.preemptive_max_retries) == (4.0, 1)
    # keys left out keep Voxlane's defaults
    assert opts.max_tool_steps == 3 and opts.user_away_timeout == 15.0


def test_options_read_back_in_the_turn_handling_spelling() -> None:
    session: AgentSession[None] = AgentSession(
        turn_handling={"turn_detection": "vad", "preemptive_generation": {"enabled": False}},
        min_endpointing_delay=0.4,  # the old spelling still works next to the new one
    )
    th = session.options.turn_handling
    assert th["turn_detection"] == "vad"
    assert th["preemptive_generation"]["enabled"] is False
    assert th["endpointing"]["min_delay"] == 0.4
    assert th["interruption"]["enabled"] is True


def test_old_keywords_alone_still_work() -> None:
    session: AgentSession[None] = AgentSession(
        turn_detection="manual",
        allow_interruptions=False,
        min_endpointing_delay=0.1,
        max_endpointing_delay=1.0,
        preemptive_generation=True,
    )
    opts = session.options
    assert session.turn_detection == "manual"
    assert opts.allow_interruptions is False and opts.preemptive_generation is True
    assert (opts.min_endpointing_delay, opts.max_endpointing_delay) == (0.1, 1.0)
    assert AgentSession().turn_detection is None  # automatic


# -- conflicts and errors --------------------------------------------------------------------


def test_a_value_set_both_ways_on_the_session_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"allow_interruptions=False and .*'enabled'"):
        AgentSession(allow_interruptions=False, turn_handling={"interruption": {"enabled": True}})
    with pytest.raises(ValueError, match=r"turn_detection='stt' and turn_handling"):
        AgentSession(turn_detection="stt", turn_handling={"turn_detection": "vad"})
    with pytest.raises(ValueError, match=r"min_endpointing_delay=0\.3"):
        AgentSession(min_endpointing_delay=0.3, turn_handling={"endpointing": {"min_delay": 0.3}})


def test_an_old_keyword_left_at_its_default_gives_way() -> None:
    # the public defaults cannot tell "not given" from "given the default": turn_handling wins
    session: AgentSession[None] = AgentSession(
        min_endpointing_delay=0.5, turn_handling={"endpointing": {"min_delay": 0.9}}
    )
    assert session.options.min_endpointing_delay == 0.9


def test_a_value_set_both_ways_on_an_agent_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"Agent: allow_interruptions=True and"):
        Agent(
            instructions="x",
            allow_interruptions=True,
            turn_handling={"interruption": {"enabled": True}},
        )
    with pytest.raises(ValueError, match=r"turn_detection='vad' and"):
        Agent(instructions="x", turn_detection="vad", turn_handling={"turn_detection": "stt"})


@pytest.mark.parametrize(
    ("turn_handling", "error", "message"),
    [
        ({"endpoint": {}}, ValueError, r"unknown key 'endpoint'; valid keys are 'turn_detection'"),
        ({"endpointing": {"min": 1}}, ValueError, r"unknown key 'min'; valid keys are 'mode'"),
        ({"interruption": {"enabled": "yes"}}, ValueError, "must be True or False"),
        ({"endpointing": {"min_delay": -1}}, ValueError, "a number of seconds >= 0"),
        ({"interruption": {"min_words": 1.5}}, ValueError, "an integer >= 0"),
        ({"preemptive_generation": {"max_retries": -1}}, ValueError, "an integer >= 0"),
        ({"endpointing": {"mode": "smart"}}, ValueError, "'fixed' or 'dynamic'"),
        ({"endpointing": {"alpha": 0}}, ValueError, r"in \(0, 1\]"),
        ({"interruption": {"mode": "ml"}}, ValueError, "'adaptive' or 'vad'"),
        ({"interruption": {"backchannel_boundary": 1.0}}, ValueError, "a pair of seconds"),
        ({"turn_detection": "eou"}, ValueError, "unknown turn_handling\\['turn_detection'\\]"),
        ({"endpointing": 0.5}, TypeError, r"turn_handling\['endpointing'\] must be a mapping"),
        ({"user_turn_limit": {"max_words": 50}}, ValueError, "not implemented in Voxlane"),
        (
            {"endpointing": {"min_delay": 2.0, "max_delay": 1.0}},
            ValueError,
            "max_endpointing_delay .* must be >= min_endpointing_delay",
        ),
    ],
)
def test_bad_turn_handling_is_a_clear_error(turn_handling: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        AgentSession(turn_handling=turn_handling)


def test_turn_handling_must_be_a_mapping() -> None:
    with pytest.raises(TypeError, match=r"must be a TurnHandlingOptions mapping \(a dict\)"):
        AgentSession(turn_handling=["vad"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"MyAgent\(turn_handling=...\)"):

        class MyAgent(Agent):
            pass

        MyAgent(instructions="x", turn_handling="vad")  # type: ignore[arg-type]


def test_unsupported_modes_are_accepted_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="voxlane.agents.voice"):
        session: AgentSession[None] = AgentSession(
            turn_handling={
                "endpointing": {"mode": "dynamic", "alpha": 0.9},
                "interruption": {"mode": "adaptive", "backchannel_boundary": (1.0, 1.0)},
                "preemptive_generation": {"preemptive_tts": True},
            }
        )
    text = caplog.text
    assert "no dynamic endpointing" in text
    assert "interruptions are detected with the VAD" in text
    assert "not the TTS" in text
    assert session.options.min_endpointing_delay == 0.5  # fixed delays still apply


# -- agent-level overrides -------------------------------------------------------------------


async def test_agent_values_override_the_session_key_by_key() -> None:
    session: AgentSession[None] = AgentSession(
        llm=FakeLLM(default="ok"),
        turn_handling={"endpointing": {"min_delay": 0.2, "max_delay": 3.0}},
        user_away_timeout=None,
    )
    agent = Agent(
        instructions="x",
        turn_handling={"endpointing": {"min_delay": 1.0}, "interruption": {"enabled": False}},
    )
    assert agent.turn_handling == {
        "endpointing": {"min_delay": 1.0},
        "interruption": {"enabled": False},
    }
    assert agent.allow_interruptions is False
    await session.start(agent)
    activity = session._activity
    assert activity is not None
    assert (activity.options.min_endpointing_delay, activity.options.max_endpointing_delay) == (
        1.0,
        3.0,
    )
    assert session.options.min_endpointing_delay == 0.2  # the session's own are unchanged
    handle = session.say("hello")
    assert handle.allow_interruptions is False
    await handle
    # the next agent sets nothing: the session's values apply again
    session.update_agent(Agent(instructions="y"))
    await session.drain()
    assert session._activity is not None and session._activity is not activity
    assert session._activity.options.min_endpointing_delay == 0.2
    assert session.say("again").allow_interruptions is True
    await session.aclose()


async def test_agent_values_that_do_not_fit_the_session_are_an_error() -> None:
    session: AgentSession[None] = AgentSession(
        llm=FakeLLM(default="ok"), turn_handling={"endpointing": {"max_delay": 1.0}}
    )
    agent = Agent(instructions="x", turn_handling={"endpointing": {"min_delay": 2.0}})
    with pytest.raises(ValueError, match="Agent: max_endpointing_delay"):
        await session.start(agent)
    assert session._activity is None  # not started: a fitting agent can start it
    await session.start(Agent(instructions="ok"))
    with pytest.raises(ValueError, match="Agent: max_endpointing_delay"):
        session.update_agent(agent)
    await session.aclose()


def test_agent_task_takes_turn_handling_too() -> None:
    task: AgentTask[str] = AgentTask(
        instructions="collect the date", turn_handling={"interruption": {"enabled": False}}
    )
    assert task.allow_interruptions is False
    assert task.turn_detection is NOT_GIVEN


async def test_agent_turn_detection_from_turn_handling() -> None:
    session: AgentSession[None] = AgentSession(
        stt=FakeSTT([]), vad=FakeVAD(segments=[]), llm=FakeLLM(default="ok")
    )
    await session.start(Agent(instructions="x", turn_handling={"turn_detection": "manual"}))
    assert session._activity is not None and session._activity.turn_detection == "manual"
    await session.aclose()


# -- behaviour driven by the options ---------------------------------------------------------


async def _stt_turn(
    *, session_th: TurnHandlingOptions, agent: Agent
) -> tuple[AgentSession[None], list[tuple[str, float]]]:
    """The user says "hi there" (speech 0.2-0.8 s, STT turn detection); records the times of
    the user's stop and of the user message."""
    session: AgentSession[None] = AgentSession(
        stt=FakeSTT([ScriptedTranscript("hi there", 0.2, 0.8)]),
        llm=FakeLLM(default="hello"),
        turn_handling=session_th,
        user_away_timeout=None,
    )
    times: list[tuple[str, float]] = []
    loop = asyncio.get_running_loop()
    session.on(
        "user_state_changed",
        lambda ev: times.append((f"user_{ev.new_state}", loop.time())),
    )
    session.on(
        "conversation_item_added",
        lambda ev: times.append((f"item_{ev.item.role}", loop.time())),
    )
    mic = QueueAudioInput()
    session.input.audio = mic
    await session.start(agent)
    mic.push(audio_pattern([(0.2, False), (0.6, True), (2.0, False)]))
    await asyncio.sleep(3.0)
    return session, times


def _endpointing_delay(times: list[tuple[str, float]]) -> float:
    stopped = next(t for name, t in times if name == "user_listening")
    committed = next(t for name, t in times if name == "item_user")
    return committed - stopped


async def test_endpointing_min_delay_from_turn_handling_sets_when_the_turn_ends() -> None:
    session, times = await _stt_turn(
        session_th={"turn_detection": "stt", "endpointing": {"min_delay": 0.3}},
        agent=Agent(instructions="x"),
    )
    assert _endpointing_delay(times) == pytest.approx(0.3, abs=1e-3)
    await session.aclose()


async def test_agent_endpointing_delay_overrides_the_session() -> None:
    session, times = await _stt_turn(
        session_th={"turn_detection": "stt", "endpointing": {"min_delay": 0.3}},
        agent=Agent(instructions="x", turn_handling={"endpointing": {"min_delay": 0.7}}),
    )
    assert _endpointing_delay(times) == pytest.approx(0.7, abs=1e-3)
    await session.aclose()


async def test_interruption_disabled_keeps_the_agent_speaking() -> None:
    session: AgentSession[None] = AgentSession(
        vad=FakeVAD(segments=[(0.5, 2.0)]),
        tts=FakeTTS(seconds_per_char=0.05),
        turn_handling={"interruption": {"enabled": False}},
        user_away_timeout=None,
    )
    out = MemoryAudioOutput()
    session.output.audio = out
    mic = QueueAudioInput()
    session.input.audio = mic
    await session.start(Agent(instructions="x"))
    handle = session.say("x" * 60)  # 3 s of speech
    mic.push(audio_pattern([(0.5, False), (1.5, True), (1.0, False)]))
    await handle
    assert not handle.interrupted
    assert out.segments[0].interrupted is False
    await session.aclose()


async def test_interruption_min_duration_from_turn_handling() -> None:
    async def run(min_duration: float) -> bool:
        session: AgentSession[None] = AgentSession(
            vad=FakeVAD(segments=[(0.5, 1.0)]),  # 0.5 s of user speech
            tts=FakeTTS(seconds_per_char=0.05),
            turn_handling={
                "interruption": {"min_duration": min_duration, "resume_false_interruption": False}
            },
            user_away_timeout=None,
        )
        session.output.audio = MemoryAudioOutput()
        mic = QueueAudioInput()
        session.input.audio = mic
        await session.start(Agent(instructions="x"))
        handle = session.say("x" * 60)
        mic.push(audio_pattern([(0.5, False), (0.5, True), (1.0, False)]))
        await handle
        await session.aclose()
        return handle.interrupted

    assert await run(0.3) is True
    assert await run(0.8) is False


# preemptive generation: the user speaks 0.5-1.5 s (VAD); the STT sends two finals in the turn,
# "book" at 0.9 s and "a table" at 1.5 s; the turn ends at 1.5 + 0.5 = 2.0 s
TTFT = 0.4


async def _preemptive_session(th: TurnHandlingOptions) -> tuple[AgentSession[None], FakeLLM, float]:
    llm = FakeLLM(default="For how many people?", ttft=TTFT)
    session: AgentSession[None] = AgentSession(
        llm=llm,
        stt=FakeSTT(
            [
                ScriptedTranscript("book", 0.5, 0.9, interims=()),
                ScriptedTranscript("a table", 1.0, 1.5, interims=()),
            ]
        ),
        vad=FakeVAD(segments=[(0.5, 1.5)]),
        tts=FakeTTS(seconds_per_char=0.02),
        turn_handling=th,
        user_away_timeout=None,
    )
    out = MemoryAudioOutput()
    session.output.audio = out
    mic = QueueAudioInput()
    session.input.audio = mic
    t0 = asyncio.get_running_loop().time()
    await session.start(Agent(instructions="restaurant"))
    mic.push(audio_pattern([(0.5, False), (1.0, True), (3.0, False)]))
    await asyncio.sleep(4.5)
    started = out.segments[0].started_at
    assert started is not None
    return session, llm, started - t0


async def test_preemptive_generation_enabled_through_turn_handling() -> None:
    session, llm, reply_at = await _preemptive_session(
        {"endpointing": {"min_delay": 0.5}, "preemptive_generation": {}}
    )
    assert [c.last_user_message for c in llm.calls] == ["book", "book a table"]
    assert reply_at == pytest.approx(2.0, abs=0.05)  # the second request was used
    await session.aclose()


async def test_preemptive_max_retries_limits_the_requests_of_a_turn() -> None:
    session, llm, reply_at = await _preemptive_session(
        {"endpointing": {"min_delay": 0.5}, "preemptive_generation": {"max_retries": 1}}
    )
    # one preemptive request ("book"), then the normal reply after the end of turn
    assert [c.last_user_message for c in llm.calls] == ["book", "book a table"]
    assert reply_at == pytest.approx(2.0 + TTFT, abs=0.05)
    await session.aclose()


async def test_preemptive_max_speech_duration_skips_long_turns() -> None:
    session, llm, reply_at = await _preemptive_session(
        {"endpointing": {"min_delay": 0.5}, "preemptive_generation": {"max_speech_duration": 0.3}}
    )
    # the user had spoken 0.4 s at the first final: no preemptive request at all
    assert [c.last_user_message for c in llm.calls] == ["book a table"]
    assert reply_at == pytest.approx(2.0 + TTFT, abs=0.05)
    await session.aclose()


async def test_preemptive_generation_disabled_in_turn_handling() -> None:
    session, llm, reply_at = await _preemptive_session(
        {"endpointing": {"min_delay": 0.5}, "preemptive_generation": {"enabled": False}}
    )
    assert [c.last_user_message for c in llm.calls] == ["book a table"]
    assert reply_at == pytest.approx(2.0 + TTFT, abs=0.05)
    await session.aclose()
