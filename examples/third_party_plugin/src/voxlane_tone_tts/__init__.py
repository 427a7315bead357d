"""voxlane-example-tone-tts: a third-party Voxlane plugin with a tiny offline formant TTS.

    from voxlane_tone_tts import ToneTTS
    tts = ToneTTS(model="formant", pitch_hz=140)

or, through the plugin registry, ``"tone/formant:140"`` wherever a TTS is accepted.

The classes are imported on first access, so loading the plugin's hooks (``voxlane plugins``)
does not import numpy or the core TTS machinery.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .synth import SynthOptions, synthesize_pcm
    from .tts import ToneChunkedStream, ToneSynthesizeStream, ToneTTS

_LAZY = {
    "SynthOptions": ".synth",
    "synthesize_pcm": ".synth",
    "ToneChunkedStream": ".tts",
    "ToneSynthesizeStream": ".tts",
    "ToneTTS": ".tts",
}

__all__ = [
    "SynthOptions",
    "ToneChunkedStream",
    "ToneSynthesizeStream",
    "ToneTTS",
    "__version__",
    "synthesize_pcm",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
