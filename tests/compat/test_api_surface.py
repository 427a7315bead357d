"""The LiveKit Agents 1.x public surface exists in ``voxlane.agents`` with compatible signatures.

Expected names, parameters and defaults come from the API docs we follow (seed 001: the voice
runtime; seeds 000/002/003: RunContext, JobContext, AsyncToolset) and section 2 of the
reference (stt/tts/llm/vad/tokenize/metrics). "Compatible" means: every parameter a LiveKit
program may pass exists under the same name, with the same kind (positional or keyword-only)
and default; Voxlane may add parameters, as long as they have defaults. Deliberate differences
are listed in KNOWN_GAPS.md instead of being asserted here.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from voxlane.agents.types import NOT_GIVEN

REQUIRED = inspect.Parameter.empty
"""Marks a parameter without a default."""

KW = "kw"  # keyword-only
POS = "pos"  # positional (or positional-or-keyword)


def resolve(path: str) -> Any:
    """``"voxlane.agents.voice:AgentSession.say"`` -> the object."""
    module_name, _, attr_path = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr_path.split(".") if attr_path else []:
        obj = getattr(obj, part)
    return obj


def _same_default(actual: Any, expected: Any) -> bool:
    if expected is REQUIRED:
        return True  # LiveKit programs always pass it; a Voxlane default does no harm
    if expected is NOT_GIVEN or expected is None:
        return actual is expected
    return bool(actual == expected) and type(actual) is type(expected)


def check_signature(
    fn: Callable[..., Any], expected: dict[str, tuple[str, Any]], *, skip_first: bool
) -> list[str]:
    """Problems of ``fn``'s signature against ``{name: (kind, default)}``; [] when compatible."""
    params = list(inspect.signature(fn).parameters.values())
    if skip_first:
        params = params[1:]
    by_name = {p.name: p for p in params}
    problems: list[str] = []
    for name, (kind, default) in expected.items():
        p = by_name.get(name)
        if p is None:
            problems.append(f"missing parameter {name!r}")
            continue
        if kind == KW and p.kind not in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD):
            problems.append(f"{name!r} cannot be passed by keyword ({p.kind.description})")
        if kind == POS and p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            problems.append(f"{name!r} cannot be passed by position ({p.kind.description})")
        if not _same_default(p.default, default):
            problems.append(f"{name!r} defaults to {p.default!r}, LiveKit uses {default!r}")
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    expected_positional = [n for n, (k, _) in expected.items() if k == POS]
    if positional[: len(expected_positional)] != expected_positional:
        problems.append(f"positional order {positional} != {expected_positional}")
    for p in params:
        extra = p.name not in expected and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        if extra and p.default is REQUIRED:
            problems.append(f"extra required parameter {p.name!r}")
    return problems


def kw(**defaults: Any) -> dict[str, tuple[str, Any]]:
    return {name: (KW, default) for name, default in defaults.items()}


def pos(*names: str, **defaults: Any) -> dict[str, tuple[str, Any]]:
    spec: dict[str, tuple[str, Any]] = {name: (POS, REQUIRED) for name in names}
    spec.update({name: (POS, default) for name, default in defaults.items()})
    return spec


R = REQUIRED
N = NOT_GIVEN
V = "voxlane.agents"
VOICE = "voxlane.agents.voice"
NODE = pos("text", "model_settings")
AUDIO_NODE = pos("audio", "model_settings")

# Agent / AgentTask constructor arguments (seed 001)
AGENT_KWARGS = kw(
    instructions=R,
    chat_ctx=N,
    tools=None,
    turn_detection=N,
    stt=N,
    vad=N,
    llm=N,
    tts=N,
    mcp_servers=N,
    allow_interruptions=N,
    min_consecutive_speech_delay=N,
)

SIGNATURES: dict[str, dict[str, tuple[str, Any]]] = {
    # -- voice runtime (seed 001) -------------------------------------------------------------
    f"{VOICE}:Agent.__init__": AGENT_KWARGS,
    f"{VOICE}:Agent.update_instructions": pos("instructions"),
    f"{VOICE}:Agent.update_tools": pos("tools"),
    f"{VOICE}:Agent.update_chat_ctx": pos("chat_ctx"),
    f"{VOICE}:Agent.on_enter": {},
    f"{VOICE}:Agent.on_exit": {},
    f"{VOICE}:Agent.on_user_turn_completed": pos("turn_ctx", "new_message"),
    f"{VOICE}:Agent.stt_node": AUDIO_NODE,
    f"{VOICE}:Agent.llm_node": pos("chat_ctx", "tools", "model_settings"),
    f"{VOICE}:Agent.tts_node": NODE,
    f"{VOICE}:Agent.transcription_node": NODE,
    f"{VOICE}:Agent.realtime_audio_output_node": AUDIO_NODE,
    f"{VOICE}:AgentTask.__init__": AGENT_KWARGS,
    f"{VOICE}:AgentTask.complete": pos("result"),
    f"{VOICE}:InlineTask.__init__": AGENT_KWARGS,
    f"{VOICE}:AgentSession.__init__": kw(
        turn_detection=N,
        stt=N,
        vad=N,
        llm=N,
        tts=N,
        mcp_servers=N,
        userdata=N,
        allow_interruptions=True,
        discard_audio_if_uninterruptible=True,
        min_interruption_duration=0.5,
        min_interruption_words=0,
        min_endpointing_delay=0.5,
        max_endpointing_delay=6.0,
        max_tool_steps=3,
        video_sampler=N,
        user_away_timeout=15.0,
        min_consecutive_speech_delay=0.0,
        conn_options=N,
        loop=None,
    ),
    f"{VOICE}:AgentSession.start": {
        "agent": (POS, R),
        **kw(
            room=N, room_options=N, room_input_options=N, room_output_options=N, capture_run=False
        ),
    },
    f"{VOICE}:AgentSession.say": {
        "text": (POS, R),
        **kw(audio=N, allow_interruptions=N, add_to_chat_ctx=True),
    },
    f"{VOICE}:AgentSession.generate_reply": kw(
        user_input=N, instructions=N, tool_choice=N, allow_interruptions=N
    ),
    f"{VOICE}:AgentSession.interrupt": kw(force=False),
    f"{VOICE}:AgentSession.update_agent": pos("agent"),
    f"{VOICE}:AgentSession.clear_user_turn": {},
    f"{VOICE}:AgentSession.commit_user_turn": kw(
        transcript_timeout=2.0, stt_flush_duration=2.0, skip_reply=False
    ),
    f"{VOICE}:AgentSession.drain": {},
    f"{VOICE}:AgentSession.aclose": {},
    f"{VOICE}:AgentSession.run": kw(user_input=R),
    f"{VOICE}:RunContext.__init__": kw(session=R, speech_handle=R, function_call=R),
    f"{VOICE}:RunContext.disallow_interruptions": {},
    # newer 1.x API (reference sections 2.6, 2.3 and 4.1)
    f"{VOICE}:RunContext.update": pos("message"),
    f"{VOICE}:RunContext.with_filler": {
        "source": (POS, R),
        **kw(delay=0, interval=None, max_steps=None),
    },
    f"{V}.tts:SentenceStreamPacer.__init__": kw(min_remaining_audio=5.0, max_text_length=300),
    f"{V}:AgentServer.rtc_session": kw(agent_name="", on_request=None, on_session_end=None),
    f"{VOICE}:RunContext.wait_for_playout": {},
    f"{VOICE}:SpeechHandle.__init__": kw(
        speech_id=R, allow_interruptions=R, step_index=R, parent=R
    ),
    f"{VOICE}:SpeechHandle.create": pos(allow_interruptions=True, step_index=0, parent=None),
    f"{VOICE}:SpeechHandle.interrupt": {},
    f"{VOICE}:SpeechHandle.done": {},
    f"{VOICE}:SpeechHandle.wait_for_playout": {},
    f"{VOICE}:SpeechHandle.add_done_callback": pos("callback"),
    f"{VOICE}:SpeechHandle.wait_if_not_interrupted": pos("aw"),
    f"{VOICE}:ModelSettings.__init__": pos(tool_choice=N),
    f"{VOICE}:ChatCLI.__init__": {
        "agent_session": (POS, R),
        **kw(sync_transcription=True, loop=None),
    },
    f"{VOICE}:ChatCLI.start": {},
    # reference 3.9 names these fields; LiveKit's defaults for the ones it states
    f"{V}:RoomInputOptions.__init__": kw(
        text_enabled=True,
        audio_enabled=True,
        video_enabled=False,
        audio_sample_rate=24000,
        audio_num_channels=1,
        noise_cancellation=None,
        text_input_cb=R,
        participant_identity=None,
        pre_connect_audio=True,
        pre_connect_audio_timeout=3.0,
        close_on_disconnect=True,
        delete_room_on_close=R,
    ),
    # newer 1.x session API (reference 3.1)
    f"{VOICE}:AgentSession.wait_for_idle": {},
    f"{VOICE}:AgentSession.shutdown": kw(drain=True),
    f"{V}.metrics:log_metrics": {"metrics": (POS, R), **kw(logger=None)},
    f"{V}.tokenize.basic:hyphenate_word": pos("word"),
    f"{V}.utils:log_exceptions": {"msg": (POS, ""), **kw(logger=R)},
    f"{V}.utils:ExpFilter.__init__": pos("alpha", max_val=-1.0),
    f"{V}.utils:ExpFilter.apply": pos("exp", "sample"),
    f"{V}.utils:MovingAverage.__init__": pos("window_size"),
    f"{V}.utils:MovingAverage.add_sample": pos("sample"),
    f"{V}.utils.http_context:http_session": {},
    f"{V}:RoomOutputOptions.__init__": kw(
        transcription_enabled=True,
        audio_enabled=True,
        audio_sample_rate=24000,
        audio_num_channels=1,
    ),
    # -- async tools (seed 003) ----------------------------------------------------------------
    f"{V}.llm:AsyncRunContext.__init__": kw(run_ctx=R, toolset=R),
    f"{V}.llm:AsyncRunContext.update": pos("message"),
    f"{V}.llm:AsyncToolset.__init__": kw(id=R, tools=None, on_duplicate_call="confirm"),
    f"{V}.llm:AsyncToolset.cancel": pos("call_id"),
    f"{V}.llm:AsyncToolset.aclose": {},
    # -- jobs (seed 002) -----------------------------------------------------------------------
    f"{V}:JobContext.connect": kw(auto_subscribe=resolve(f"{V}:AutoSubscribe").SUBSCRIBE_ALL),
    f"{V}:JobContext.add_shutdown_callback": pos("callback"),
    # -- section 2: models ---------------------------------------------------------------------
    f"{V}:APIConnectOptions.__init__": pos(max_retry=3, retry_interval=2.0, timeout=10.0),
    f"{V}.llm:LLM.chat": kw(
        chat_ctx=R,
        tools=None,
        conn_options=resolve(f"{V}.types:DEFAULT_API_CONNECT_OPTIONS"),
        parallel_tool_calls=N,
        tool_choice=N,
        extra_kwargs=N,
    ),
    f"{V}.llm:FallbackAdapter.__init__": {
        "llm": (POS, R),
        **kw(
            attempt_timeout=5.0, max_retry_per_llm=0, retry_interval=0.5, retry_on_chunk_sent=False
        ),
    },
    f"{V}.stt:STT.recognize": {
        "buffer": (POS, R),
        **kw(language=N, conn_options=resolve(f"{V}.types:DEFAULT_API_CONNECT_OPTIONS")),
    },
    f"{V}.stt:STT.stream": kw(
        language=N, conn_options=resolve(f"{V}.types:DEFAULT_API_CONNECT_OPTIONS")
    ),
    f"{V}.stt:RecognizeStream.push_frame": pos("frame"),
    f"{V}.stt:STTCapabilities.__init__": kw(streaming=R, interim_results=R, diarization=False),
    f"{V}.stt:StreamAdapter.__init__": kw(stt=R, vad=R),
    f"{V}.stt:FallbackAdapter.__init__": {
        "stt": (POS, R),
        **kw(vad=None, attempt_timeout=10.0, max_retry_per_stt=1, retry_interval=5.0),
    },
    f"{V}.tts:TTSCapabilities.__init__": kw(streaming=R, aligned_transcript=False),
    f"{V}.tts:TTS.__init__": kw(capabilities=R, sample_rate=R, num_channels=R),
    f"{V}.tts:TTS.synthesize": {
        "text": (POS, R),
        **kw(conn_options=resolve(f"{V}.types:DEFAULT_API_CONNECT_OPTIONS")),
    },
    f"{V}.tts:TTS.stream": kw(conn_options=resolve(f"{V}.types:DEFAULT_API_CONNECT_OPTIONS")),
    f"{V}.tts:SynthesizeStream.push_text": pos("token"),
    f"{V}.tts:StreamAdapter.__init__": kw(tts=R, sentence_tokenizer=N, text_pacing=False),
    f"{V}.tts:FallbackAdapter.__init__": {
        "tts": (POS, R),
        **kw(max_retry_per_tts=2, sample_rate=None),
    },
    f"{V}.tts:AudioEmitter.initialize": kw(
        request_id=R, sample_rate=R, num_channels=R, mime_type=R, frame_size_ms=200, stream=False
    ),
    f"{V}.vad:VAD.__init__": kw(capabilities=R),
    f"{V}.vad:VADCapabilities.__init__": kw(update_interval=R),
    f"{V}.vad:VADStream.push_frame": pos("frame"),
}


def _is_method(path: str) -> bool:
    """True for ``module:Class.method`` paths whose first parameter is ``self``/``cls``."""
    module, _, attr_path = path.partition(":")
    owner_path, dot, attr = attr_path.rpartition(".")
    if not dot:
        return False
    owner = resolve(f"{module}:{owner_path}")
    return inspect.isclass(owner) and not isinstance(
        inspect.getattr_static(owner, attr), staticmethod
    )


@pytest.mark.parametrize("path", sorted(SIGNATURES))
def test_signature_is_compatible(path: str) -> None:
    problems = check_signature(resolve(path), SIGNATURES[path], skip_first=_is_method(path))
    assert not problems, f"{path}: " + "; ".join(problems)


# -- names a LiveKit program imports -----------------------------------------------------------

EXPORTS: dict[str, list[str]] = {
    V: [
        "Agent", "AgentSession", "AgentTask", "InlineTask", "RunContext", "SpeechHandle",
        "ModelSettings", "function_tool", "FunctionTool", "RawFunctionTool", "ToolError",
        "StopResponse", "ChatContext", "ChatMessage", "ChatItem", "ChatRole", "FunctionCall",
        "FunctionCallOutput", "ImageContent", "AsyncToolset", "AsyncRunContext", "JobContext",
        "JobProcess", "JobRequest", "JobExecutorType", "AutoSubscribe", "get_job_context",
        "WorkerOptions", "WorkerType", "WorkerPermissions", "APIConnectOptions",
        "DEFAULT_API_CONNECT_OPTIONS", "NOT_GIVEN", "NotGiven", "NotGivenOr", "APIError",
        "APIStatusError", "APIConnectionError", "APITimeoutError", "AgentsError",
        "RoomInputOptions", "RoomOutputOptions", "RoomIO", "RunResult", "mock_tools",
        "CloseEvent", "CloseReason", "ErrorEvent", "MetricsCollectedEvent",
        "ConversationItemAddedEvent", "UserInputTranscribedEvent", "AgentStateChangedEvent",
        "UserStateChangedEvent", "SpeechCreatedEvent", "FunctionToolsExecutedEvent",
        "AgentFalseInterruptionEvent", "cli", "llm", "stt", "tts", "vad", "tokenize", "metrics",
        "utils", "mcp", "voice",
        # newer 1.x names (reference: AgentServer, TurnHandlingOptions, RoomOptions)
        "AgentServer", "ServerOptions", "ServerType", "TurnHandlingOptions",
        "EndpointingOptions", "InterruptionOptions", "PreemptiveGenerationOptions",
        "room_io",
    ],
    VOICE: [
        "Agent", "AgentSession", "AgentTask", "InlineTask", "RunContext", "SpeechHandle",
        "ModelSettings", "AgentStateChangedEvent", "CloseEvent", "CloseReason",
        "ConversationItemAddedEvent", "ErrorEvent", "FunctionToolsExecutedEvent",
        "MetricsCollectedEvent", "SpeechCreatedEvent", "UserInputTranscribedEvent",
        "UserStateChangedEvent", "io", "room_io", "ChatCLI",
    ],
    f"{V}.llm": [
        "LLM", "LLMStream", "ChatChunk", "ChoiceDelta", "FunctionToolCall", "CompletionUsage",
        "ChatContext", "ChatMessage", "ChatItem", "FunctionCall", "FunctionCallOutput",
        "AgentHandoff", "ImageContent", "AudioContent", "function_tool", "FunctionTool",
        "RawFunctionTool", "ToolError", "StopResponse", "Toolset", "ToolContext", "ToolChoice",
        "ToolFlag", "ProviderTool", "find_function_tools", "FallbackAdapter", "RealtimeModel",
        "RealtimeSession", "RealtimeCapabilities", "RealtimeError", "LLMError",
        "AsyncToolset", "AsyncRunContext",
    ],
    f"{V}.stt": [
        "STT", "RecognizeStream", "SpeechStream", "SpeechEvent", "SpeechEventType",
        "SpeechData", "STTCapabilities", "RecognitionUsage", "StreamAdapter",
        "FallbackAdapter", "AvailabilityChangedEvent", "STTError",
    ],
    f"{V}.tts": [
        "TTS", "ChunkedStream", "SynthesizeStream", "SynthesizedAudio", "TTSCapabilities",
        "AudioEmitter", "StreamAdapter", "FallbackAdapter", "AvailabilityChangedEvent",
        "TTSError", "SentenceStreamPacer",
    ],
    f"{V}.vad": ["VAD", "VADStream", "VADEvent", "VADEventType", "VADCapabilities"],
    f"{V}.tokenize": [
        "SentenceTokenizer", "WordTokenizer", "SentenceStream", "WordStream", "TokenData",
        "basic", "utils",
    ],
    f"{V}.tokenize.basic": ["SentenceTokenizer", "WordTokenizer", "hyphenate_word"],
    f"{V}.tokenize.blingfire": ["SentenceTokenizer", "WordTokenizer"],
    f"{VOICE}.room_io": [
        "RoomIO", "RoomOptions", "RoomInputOptions", "RoomOutputOptions", "AudioInputOptions",
        "AudioOutputOptions", "TextInputOptions", "TextOutputOptions",
    ],
    f"{V}.metrics": [
        "LLMMetrics", "STTMetrics", "TTSMetrics", "VADMetrics", "EOUMetrics",
        "RealtimeModelMetrics", "UsageCollector", "UsageSummary", "AgentMetrics", "log_metrics",
    ],
    f"{V}.utils": [
        "aio", "audio", "shortuuid", "log_exceptions", "EventEmitter", "is_given",
        "merge_frames", "combine_frames", "AudioBuffer", "ExpFilter", "MovingAverage",
        "http_context",
    ],
    f"{V}.utils.audio": ["merge_frames", "combine_frames", "AudioBuffer", "AudioByteStream"],
    f"{V}.utils.http_context": ["http_session"],
    f"{V}.utils.aio": ["Chan", "ChanClosed", "cancel_and_wait"],
    f"{V}.cli": ["run_app"],
    f"{V}.mcp": ["MCPServer", "MCPServerStdio", "MCPServerHTTP"],
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(EXPORTS))
def test_module_exports_the_livekit_names(module: str) -> None:
    mod = importlib.import_module(module)
    missing = [name for name in EXPORTS[module] if not hasattr(mod, name)]
    assert not missing, f"{module} lacks {missing}"


def test_livekit_import_lines_work() -> None:
    """The ``from livekit.agents... import ...`` lines of typical programs, rewritten."""
    source = """
from voxlane.agents import Agent, AgentSession, JobContext, RunContext, WorkerOptions, cli
from voxlane.agents import function_tool, get_job_context, llm, metrics, stt, tts, vad
from voxlane.agents.llm import ChatContext, ChatMessage, FunctionTool, ToolError
from voxlane.agents.voice import Agent as VoiceAgent, AgentSession as VoiceSession
from voxlane.agents.voice.room_io import RoomInputOptions, RoomOutputOptions
from voxlane.agents.llm.async_toolset import AsyncRunContext, AsyncToolset
from voxlane.agents.utils.aio import cancel_and_wait
from voxlane.agents.types import NOT_GIVEN, NotGivenOr, APIConnectOptions
"""
    namespace: dict[str, Any] = {}
    exec(compile(source, "<livekit-imports>", "exec"), namespace)
    assert namespace["VoiceAgent"] is namespace["Agent"]
    assert namespace["VoiceSession"] is namespace["AgentSession"]


# -- properties and methods --------------------------------------------------------------------

MEMBERS: dict[str, tuple[list[str], list[str]]] = {
    # class: (properties, methods)
    f"{VOICE}:Agent": (
        [
            "allow_interruptions", "chat_ctx", "instructions", "llm", "mcp_servers",
            "min_consecutive_speech_delay", "realtime_llm_session", "session", "stt", "tools",
            "tts", "turn_detection", "vad",
        ],
        [
            "llm_node", "on_enter", "on_exit", "on_user_turn_completed",
            "realtime_audio_output_node", "stt_node", "transcription_node", "tts_node",
            "update_chat_ctx", "update_instructions", "update_tools",
        ],
    ),
    f"{VOICE}:AgentSession": (
        [
            "agent_state", "conn_options", "current_agent", "current_speech", "history", "input",
            "llm", "mcp_servers", "options", "output", "stt", "tts", "turn_detection",
            "user_state", "userdata", "vad", "usage",
        ],
        [
            "aclose", "clear_user_turn", "commit_user_turn", "drain", "generate_reply",
            "interrupt", "say", "start", "update_agent", "update_options", "run", "on", "off",
            "once", "emit", "wait_for_idle", "shutdown",
        ],
    ),
    f"{VOICE}:RunContext": (
        ["function_call", "session", "speech_handle", "userdata"],
        ["disallow_interruptions", "wait_for_playout"],
    ),
    f"{VOICE}:SpeechHandle": (
        ["allow_interruptions", "chat_message", "id", "interrupted", "parent", "step_index"],
        ["add_done_callback", "done", "interrupt", "wait_for_playout", "wait_if_not_interrupted"],
    ),
    f"{V}.llm:AsyncToolset": ([], ["cancel", "aclose", "setup"]),
    f"{V}:JobContext": (
        ["room", "proc", "job"],
        ["connect", "wait_for_participant", "add_shutdown_callback", "shutdown"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("cls_path", sorted(MEMBERS))
def test_properties_and_methods(cls_path: str) -> None:
    cls = resolve(cls_path)
    properties, methods = MEMBERS[cls_path]
    for name in properties:
        attr = inspect.getattr_static(cls, name, None)
        assert isinstance(attr, property), f"{cls.__name__}.{name} should be a property"
    for name in methods:
        assert callable(getattr(cls, name, None)), f"{cls.__name__}.{name}() is missing"


def test_agent_default_nodes_are_static_and_callable() -> None:
    agent_cls = resolve(f"{VOICE}:Agent")
    for node, args in {
        "stt_node": ["agent", "audio", "model_settings"],
        "llm_node": ["agent", "chat_ctx", "tools", "model_settings"],
        "tts_node": ["agent", "text", "model_settings"],
        "transcription_node": ["agent", "text", "model_settings"],
        "realtime_audio_output_node": ["agent", "audio", "model_settings"],
    }.items():
        fn = getattr(agent_cls.default, node)
        assert list(inspect.signature(fn).parameters) == args, node


def test_speech_priorities_and_close_reasons() -> None:
    handle = resolve(f"{VOICE}:SpeechHandle")
    assert (handle.SPEECH_PRIORITY_LOW, handle.SPEECH_PRIORITY_NORMAL) == (0, 5)
    assert handle.SPEECH_PRIORITY_HIGH == 10
    reason = resolve(f"{VOICE}:CloseReason")
    assert issubclass(reason, str) and issubclass(reason, enum.Enum)
    for name, value in {
        "ERROR": "error",
        "JOB_SHUTDOWN": "job_shutdown",
        "PARTICIPANT_DISCONNECTED": "participant_disconnected",
        "USER_INITIATED": "user_initiated",
    }.items():
        assert reason[name].value == value


# -- events and data models --------------------------------------------------------------------

EVENTS: dict[str, tuple[str, list[str]]] = {
    # event class: (type literal, fields)
    "AgentStateChangedEvent": ("agent_state_changed", ["old_state", "new_state"]),
    "UserStateChangedEvent": ("user_state_changed", ["old_state", "new_state"]),
    "CloseEvent": ("close", ["error", "reason"]),
    "ConversationItemAddedEvent": ("conversation_item_added", ["item"]),
    "ErrorEvent": ("error", ["error", "source"]),
    "FunctionToolsExecutedEvent": (
        "function_tools_executed", ["function_calls", "function_call_outputs"]
    ),
    "MetricsCollectedEvent": ("metrics_collected", ["metrics"]),
    "SpeechCreatedEvent": ("speech_created", ["user_initiated", "source", "speech_handle"]),
    "UserInputTranscribedEvent": (
        "user_input_transcribed", ["transcript", "is_final", "speaker_id"]
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_session_events(name: str) -> None:
    cls = resolve(f"{VOICE}:{name}")
    type_literal, fields = EVENTS[name]
    assert issubclass(cls, BaseModel)
    assert cls.model_fields["type"].default == type_literal
    missing = [f for f in fields if f not in cls.model_fields]
    assert not missing, f"{name} lacks fields {missing}"


def test_event_optional_fields_and_helpers() -> None:
    events = importlib.import_module(VOICE)
    assert events.UserInputTranscribedEvent.model_fields["speaker_id"].default is None
    assert events.CloseEvent.model_fields["error"].default is None
    fc = importlib.import_module(f"{V}.llm").FunctionCall(call_id="c1", name="f", arguments="{}")
    ev = events.FunctionToolsExecutedEvent(function_calls=[fc], function_call_outputs=[None])
    assert ev.zipped() == [(fc, None)]
    with pytest.raises(ValueError):
        events.FunctionToolsExecutedEvent(function_calls=[fc], function_call_outputs=[])


def _fields(cls: Any) -> list[str]:
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        return list(cls.model_fields)
    if dataclasses.is_dataclass(cls):
        return [f.name for f in dataclasses.fields(cls)]
    return list(inspect.signature(cls).parameters)


MODELS: dict[str, list[str]] = {
    f"{V}.stt:SpeechEvent": ["type", "request_id", "alternatives", "recognition_usage"],
    f"{V}.stt:SpeechData": [
        "language", "text", "start_time", "end_time", "confidence", "speaker_id",
    ],
    f"{V}.stt:STTCapabilities": ["streaming", "interim_results", "diarization"],
    f"{V}.tts:SynthesizedAudio": ["frame", "request_id", "is_final", "segment_id", "delta_text"],
    f"{V}.tts:TTSCapabilities": ["streaming", "aligned_transcript"],
    f"{V}.vad:VADEvent": [
        "type", "samples_index", "timestamp", "speech_duration", "silence_duration", "frames",
        "probability", "inference_duration", "speaking", "raw_accumulated_silence",
        "raw_accumulated_speech",
    ],
    f"{V}.vad:VADCapabilities": ["update_interval"],
    f"{V}.llm:ChatChunk": ["id", "delta", "usage"],
    f"{V}.llm:ChoiceDelta": ["role", "content", "tool_calls"],
    f"{V}.llm:FunctionToolCall": ["type", "name", "arguments", "call_id"],
    f"{V}.llm:CompletionUsage": [
        "completion_tokens", "prompt_tokens", "prompt_cached_tokens", "total_tokens",
    ],
    f"{V}.llm:ChatMessage": ["id", "type", "role", "content", "interrupted", "created_at"],
    f"{V}.llm:FunctionCall": ["id", "type", "call_id", "arguments", "name", "created_at"],
    f"{V}.llm:FunctionCallOutput": [
        "id", "type", "name", "call_id", "output", "is_error", "created_at",
    ],
    f"{V}.llm:AgentHandoff": ["id", "type", "old_agent_id", "new_agent_id", "created_at"],
    f"{V}.metrics:LLMMetrics": [
        "type", "label", "request_id", "timestamp", "duration", "ttft", "cancelled",
        "completion_tokens", "prompt_tokens", "total_tokens", "tokens_per_second", "speech_id",
    ],
    f"{V}.metrics:STTMetrics": [
        "type", "label", "request_id", "timestamp", "duration", "audio_duration", "streamed",
    ],
    f"{V}.metrics:TTSMetrics": [
        "type", "label", "request_id", "timestamp", "ttfb", "duration", "audio_duration",
        "cancelled", "characters_count", "streamed", "segment_id", "speech_id",
    ],
    f"{V}.metrics:VADMetrics": [
        "type", "label", "timestamp", "idle_time", "inference_duration_total", "inference_count",
    ],
    f"{V}.metrics:EOUMetrics": [
        "type", "timestamp", "end_of_utterance_delay", "transcription_delay",
        "on_user_turn_completed_delay", "speech_id",
    ],
}  # fmt: skip


@pytest.mark.parametrize("path", sorted(MODELS))
def test_data_model_fields(path: str) -> None:
    missing = [f for f in MODELS[path] if f not in _fields(resolve(path))]
    assert not missing, f"{path} lacks fields {missing}"


def test_event_type_enums() -> None:
    stt = importlib.import_module(f"{V}.stt")
    vad = importlib.import_module(f"{V}.vad")
    assert {e.name for e in stt.SpeechEventType} >= {
        "START_OF_SPEECH",
        "INTERIM_TRANSCRIPT",
        "PREFLIGHT_TRANSCRIPT",
        "FINAL_TRANSCRIPT",
        "RECOGNITION_USAGE",
        "END_OF_SPEECH",
    }
    assert [e.name for e in vad.VADEventType] == [
        "START_OF_SPEECH",
        "INFERENCE_DONE",
        "END_OF_SPEECH",
    ]
    assert stt.SpeechStream is stt.RecognizeStream


def test_api_connect_options_defaults_and_errors() -> None:
    agents = importlib.import_module(V)
    opts = agents.APIConnectOptions()
    assert (opts.max_retry, opts.retry_interval, opts.timeout) == (3, 2.0, 10.0)
    assert opts == agents.DEFAULT_API_CONNECT_OPTIONS
    err = agents.APIStatusError("bad", status_code=404, request_id="r1")
    assert (err.status_code, err.request_id, err.retryable) == (404, "r1", False)
    for code in (408, 429, 500):
        assert agents.APIStatusError("x", status_code=code).retryable
    assert issubclass(agents.APITimeoutError, agents.APIConnectionError)
    assert issubclass(agents.APIConnectionError, agents.APIError)


def test_agent_task_alias_and_generics() -> None:
    voice = importlib.import_module(VOICE)
    assert voice.InlineTask is voice.AgentTask
    assert issubclass(voice.AgentTask, voice.Agent)
    # generic subscription as LiveKit programs write it
    assert voice.AgentTask[str] is not None
    assert voice.AgentSession[dict] is not None
    assert voice.RunContext[dict] is not None
