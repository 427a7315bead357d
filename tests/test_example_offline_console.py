"""The README's first command, as a new user runs it: the offline agent's console in a terminal.

No audio device exists here, so the console must say so, start in text mode, greet, answer a
typed question with the real offline models, answer "what time is it" through its function tool,
and exit cleanly on Ctrl+D.
"""

from __future__ import annotations

import os
import pty
import re
import select
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "offline_agent.py"
# bounds for a loaded 2-core machine: loading the models and a reply take seconds, not minutes
STEP_TIMEOUT = 180.0

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses a pseudo-terminal")


class Terminal:
    """A child process on a pseudo-terminal, read as a user reads the screen."""

    def __init__(self, argv: list[str]) -> None:
        env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become the program
            os.chdir(ROOT)
            os.execve(argv[0], argv, env)
        self.screen = ""

    def read_until(self, pattern: str, timeout: float = STEP_TIMEOUT) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            found = regex.search(self.screen)
            if found:
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {pattern!r} within {timeout} s; screen:\n{self.screen}")
            ready, _, _ = select.select([self.fd], [], [], min(left, 0.5))
            if ready:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:  # the child closed the terminal
                    data = b""
                if not data:
                    raise AssertionError(f"the program ended before {pattern!r}:\n{self.screen}")
                self.screen += data.decode(errors="replace")

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def wait_exit(self, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            with_data, _, _ = select.select([self.fd], [], [], 0.2)
            if with_data:
                try:
                    self.screen += os.read(self.fd, 4096).decode(errors="replace")
                except OSError:
                    pass
        os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)
        raise AssertionError(f"the program did not exit within {timeout} s:\n{self.screen}")


def test_readme_first_command_answers_typed_questions_offline() -> None:
    term = Terminal([sys.executable, str(EXAMPLE), "console"])
    try:
        term.read_until(r"No audio device available.*text mode")
        term.read_until(r"Agent: Hello! How can I help you today\?")
        term.type("What is the capital of France?\r")
        term.read_until(r"Agent: [^\r\n]*Paris")
        # the time comes from the function tool, not from the model's imagination
        mark = len(term.screen)
        term.type("What time is it?\r")
        answer = term.read_until(r"Agent: ([^\r\n]*\d{1,2}:\d{2}[^\r\n]*)")
        assert answer.start() > mark
        assert re.search(r"It is \d{2}:\d{2} on \w+day", answer.group(1)), answer.group(1)
        term.type("\x04")  # Ctrl+D ends the console
        assert term.wait_exit() == 0, term.screen
    finally:
        try:
            os.kill(term.pid, 9)
            os.waitpid(term.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(term.fd)
