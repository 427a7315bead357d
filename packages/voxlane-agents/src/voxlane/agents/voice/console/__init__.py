"""The console: talk to an agent from a terminal (audio or text) or run turns from WAV files."""

from .chat_cli import ChatCLI
from .file_mode import FileConsole
from .room import ConsoleMode, ConsoleOptions, ConsoleRoom
from .runner import run_console, run_console_job
from .wav_io import WavAudioInput, WavAudioOutput, read_wav

__all__ = [
    "ChatCLI",
    "ConsoleMode",
    "ConsoleOptions",
    "ConsoleRoom",
    "FileConsole",
    "WavAudioInput",
    "WavAudioOutput",
    "read_wav",
    "run_console",
    "run_console_job",
]
