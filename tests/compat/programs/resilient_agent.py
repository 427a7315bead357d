"""A LiveKit Agents 1.x program composing model adapters for resilience.

- ``llm.FallbackAdapter``: OpenAI first, Anthropic when OpenAI fails.
- ``stt.StreamAdapter``: a non-streaming STT made streaming by Silero VAD segmentation, behind
  ``stt.FallbackAdapter`` with Deepgram's streaming STT first.
- ``tts.StreamAdapter``: a non-streaming TTS fed sentence by sentence, behind
  ``tts.FallbackAdapter`` with Cartesia first.

Every factory takes the models as optional parameters; the tests pass scripted fakes.
"""

from __future__ import annotations

from livekit.agents import Agent, AgentSession, JobContext, llm, stt, tokenize, tts, vad
from livekit.plugins import anthropic, cartesia, deepgram, openai, silero


def build_llm(primary: llm.LLM | None = None, backup: llm.LLM | None = None) -> llm.LLM:
    return llm.FallbackAdapter(
        [
            primary or openai.LLM(model="gpt-4o-mini"),
            backup or anthropic.LLM(model="claude-3-5-haiku-latest"),
        ],
        attempt_timeout=5.0,
        max_retry_per_llm=0,
        retry_interval=0.5,
    )


def build_stt(
    streaming: stt.STT | None = None,
    batch: stt.STT | None = None,
    voice_activity: vad.VAD | None = None,
) -> stt.STT:
    detector = voice_activity or silero.VAD.load(min_silence_duration=0.3)
    segmented = stt.StreamAdapter(stt=batch or openai.STT(), vad=detector)
    return stt.FallbackAdapter([streaming or deepgram.STT(model="nova-3"), segmented], vad=detector)


def build_tts(streaming: tts.TTS | None = None, batch: tts.TTS | None = None) -> tts.TTS:
    sentences = tts.StreamAdapter(
        tts=batch or openai.TTS(voice="ash"),
        sentence_tokenizer=tokenize.basic.SentenceTokenizer(),
    )
    return tts.FallbackAdapter([streaming or cartesia.TTS(), sentences])


class Assistant(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="You are a helpful voice assistant.")

    async def on_enter(self) -> None:
        self.session.generate_reply(instructions="Say hello.")


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    session: AgentSession[None] = AgentSession(llm=build_llm(), stt=build_stt(), tts=build_tts())
    await session.start(agent=Assistant(), room=ctx.room)
