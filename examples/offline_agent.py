"""A voice agent that needs no account, no API key and no network.

Everything runs on this machine with weights that ship inside Python packages:
silero (voice activity) -> whisper tiny.en (speech to text) -> llama.cpp with SmolLM2-135M
(the reply, with a function tool) -> piper en_US-joe-medium (text to speech).

    python examples/offline_agent.py console          # microphone and speaker; text if no device
    python examples/offline_agent.py console --text   # type your questions, read the replies
    python examples/offline_agent.py console --input-audio question.wav \\
        --output-audio answer.wav --transcript transcript.txt   # WAV in, WAV out

``tests/test_offline_agent_e2e.py`` runs a spoken question through the whole pipeline.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from voxlane.agents.cli import run_app
from voxlane.agents.job import JobContext, JobProcess
from voxlane.agents.llm import ChatContext, ChatMessage, FunctionCallOutput, function_tool
from voxlane.agents.types import is_given
from voxlane.agents.voice import Agent, AgentSession, ModelSettings
from voxlane.agents.worker import WorkerOptions
from voxlane.plugins import llamacpp, piper, silero, whisper

INSTRUCTIONS = (
    "You are Vox, a friendly voice assistant running entirely on this computer. "
    "Answer in one or two short sentences of plain text, without lists or markdown. "
    "Only call a function when the user asks for the time or the date."
)


# questions the get_current_time tool answers
TIME_QUESTION = re.compile(
    r"\b(what(?:'s| is)? the (?:time|date|day)|what time|time is it|today's date|"
    r"what day|current (?:time|date))\b",
    re.IGNORECASE,
)


def asks_for_the_time(chat_ctx: ChatContext) -> bool:
    """True when the conversation ends with the user asking for the time or the date."""
    last = chat_ctx.items[-1] if chat_ctx.items else None
    return (
        isinstance(last, ChatMessage)
        and last.role == "user"
        and TIME_QUESTION.search(last.text_content or "") is not None
    )


async def _say(text: str) -> str:
    return text


class OfflineAssistant(Agent):
    """A small assistant with one function tool."""

    def __init__(self) -> None:
        super().__init__(instructions=INSTRUCTIONS)

    def llm_node(
        self, chat_ctx: ChatContext, tools: list[Any], model_settings: ModelSettings
    ) -> Any:
        # SmolLM2-135M is too small to decide by itself when to call a function: asked for the
        # time it makes one up. So the agent decides: a question about the time or the date
        # makes the call required (the model still writes it, constrained to a valid call).
        # The tool's result is already a spoken sentence, and the model tends to garble it, so
        # that sentence is the answer.
        last = chat_ctx.items[-1] if chat_ctx.items else None
        if (
            isinstance(last, FunctionCallOutput)
            and last.name == "get_current_time"
            and not last.is_error
        ):
            return _say(last.output)
        choice = model_settings.tool_choice
        if (not is_given(choice) or choice == "auto") and asks_for_the_time(chat_ctx):
            model_settings = ModelSettings(tool_choice="required")
        return Agent.default.llm_node(self, chat_ctx, tools, model_settings)

    @function_tool
    async def get_current_time(self) -> str:
        """Get the current local date and time."""
        now = datetime.datetime.now()
        return now.strftime("It is %H:%M on %A, %B %d, %Y.")


def build_models() -> dict[str, Any]:
    """The four offline models (loading them takes a second or two)."""
    stt = whisper.STT()
    tts = piper.TTS()
    llm = llamacpp.LLM(tool_calling="prompt", max_tokens=96)
    for model in (stt, tts, llm):
        model.prewarm()  # load the weights in background threads
    return {"vad": silero.VAD.load(), "stt": stt, "llm": llm, "tts": tts}


def prewarm(proc: JobProcess) -> None:
    proc.userdata.update(build_models())


def make_session(models: dict[str, Any]) -> AgentSession[None]:
    return AgentSession(
        vad=models["vad"],
        stt=models["stt"],
        llm=models["llm"],
        tts=models["tts"],
        min_endpointing_delay=0.3,
    )


async def entrypoint(ctx: JobContext) -> None:
    models = ctx.proc.userdata if "llm" in ctx.proc.userdata else build_models()
    session = make_session(models)
    await session.start(OfflineAssistant(), room=ctx.room)
    session.say("Hello! How can I help you today?")


if __name__ == "__main__":
    run_app(WorkerOptions(entrypoint_fnc=entrypoint, prewarm_fnc=prewarm))
