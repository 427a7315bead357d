"""The console: talk to an agent from a terminal (audio or text) or run turns from WAV files."""

from ..io_impl.wav import WavAudioInput, WavAudioOutput, read_wav
from .chat_cli import ChatCLI
from .file_mode import FileConsole
from .room import ConsoleMode, ConsoleOptions, ConsoleRoom
from .runner import run_console, run_console_job

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
