"""Every code sample of the user docs runs.

Python samples in ``docs/quickstart.md``, ``docs/testing-agents.md``,
``docs/migrating-from-livekit.md`` and ``docs/architecture.md`` are extracted and executed. An
HTML comment right before a sample gives options:

- ``<!-- sample: file=NAME -->``: the sample is a file of the reader's project (``agent.py``,
  ``conftest.py``, ``test_*.py``); files named ``test_*.py`` are run with pytest, the others are
  imported or run by the tests below;
- ``<!-- sample: env=VAR1,VAR2 -->``: the sample needs these environment variables (API keys);
  they are set to a dummy value (no request is sent);
- no comment: the sample is a script and must run to completion on its own.

Models: the doc samples use the testing fakes themselves or, for the quickstart agent, run under
``fake_provider_launcher.py``, which answers its provider strings with scripted fakes.
Command lines like ``python agent.py console --text`` are parsed with the real CLI parser.
"""

from __future__ import annotations

import os
import re
import select
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from voxlane.agents.cli.app import build_parser

DOCS = Path(__file__).resolve().parents[2] / "docs"
DOC_NAMES = ["quickstart.md", "testing-agents.md", "migrating-from-livekit.md", "architecture.md"]
LAUNCHER = Path(__file__).parent / "fake_provider_launcher.py"
TIMEOUT = 120.0

BLOCK_RE = re.compile(
    r"(?:<!-- sample: (?P<opts>[^>]*?) -->\n)?```(?P<lang>[a-z]*)\n(?P<code>.*?)```", re.S
)


@dataclass
class Sample:
    doc: str
    index: int
    lang: str
    code: str
    options: dict[str, str] = field(default_factory=dict)

    @property
    def file(self) -> str | None:
        return self.options.get("file")

    @property
    def id(self) -> str:
        return f"{self.doc}#{self.index}"


def _options(text: str | None) -> dict[str, str]:
    opts: dict[str, str] = {}
    for part in (text or "").split():
        key, sep, value = part.partition("=")
        if not sep or key not in ("file", "env"):
            raise ValueError(f"bad sample option {part!r}: use file=NAME or env=VAR1,VAR2")
        opts[key] = value
    return opts


def samples(doc: str, lang: str | None = "python") -> list[Sample]:
    text = (DOCS / doc).read_text(encoding="utf-8")
    found = [
        Sample(doc, i, m["lang"], m["code"], _options(m["opts"]))
        for i, m in enumerate(BLOCK_RE.finditer(text))
    ]
    return [s for s in found if lang is None or s.lang == lang]


def _env(sample: Sample | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "DEEPGRAM_API_KEY", "CARTESIA_API_KEY"):
        env.pop(var, None)
    if sample is not None:
        for var in filter(None, sample.options.get("env", "").split(",")):
            env[var] = "dummy-key-for-docs-tests"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def _project(tmp_path: Path, *docs: str) -> Path:
    """A folder holding the ``file=`` samples of ``docs`` (the quickstart's agent.py always)."""
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    for doc in ("quickstart.md", *docs):
        for s in samples(doc):
            if s.file:
                (project / s.file).write_text(s.code, encoding="utf-8")
    return project


def _scripts() -> list[Sample]:
    return [s for doc in DOC_NAMES for s in samples(doc) if not s.file]


def test_docs_have_checked_samples() -> None:
    for doc in DOC_NAMES:
        assert (DOCS / doc).is_file(), f"docs/{doc} is missing"
    files = [s.file for doc in DOC_NAMES for s in samples(doc) if s.file]
    assert len(files) == len(set(files)), f"two samples write the same file: {files}"
    assert "agent.py" in files and "conftest.py" in files
    assert len(_scripts()) >= 3
    assert len(_cli_lines("quickstart.md")) >= 5


@pytest.mark.parametrize("sample", _scripts(), ids=lambda s: s.id)
def test_script_sample_runs(sample: Sample, tmp_path: Path) -> None:
    project = _project(tmp_path, sample.doc)
    script = project / f"sample_{sample.index}.py"
    script.write_text(sample.code, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_env(sample),
    )
    assert proc.returncode == 0, f"{sample.id} failed:\n{sample.code}\n{proc.stdout}{proc.stderr}"


def test_testing_guide_samples_pass_under_pytest(tmp_path: Path) -> None:
    """The test files of testing-agents.md, with its pyproject settings, in one project."""
    project = _project(tmp_path, "testing-agents.md")
    toml = [s for s in samples("testing-agents.md", lang="toml")]
    assert len(toml) == 1
    (project / "pyproject.toml").write_text(
        toml[0].code + 'addopts = "-p no:cacheprovider"\n', encoding="utf-8"
    )
    tests = sorted(p.name for p in project.glob("test_*.py"))
    assert len(tests) >= 3, tests
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--timeout=60", *tests],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 2,
        env=_env(PYTHONPATH=str(project)),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " passed" in proc.stdout and "failed" not in proc.stdout and "skipped" not in proc.stdout


def _cli_lines(doc: str) -> list[list[str]]:
    lines: list[list[str]] = []
    for s in samples(doc, lang="bash"):
        for line in s.code.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words[:2] == ["python", "agent.py"]:
                lines.append(words[2:])
    return lines


@pytest.mark.parametrize("doc", DOC_NAMES)
def test_documented_command_lines_parse(doc: str) -> None:
    parser = build_parser("agent.py")
    for argv in _cli_lines(doc):
        try:
            parser.parse_args(argv)
        except SystemExit as e:
            raise AssertionError(f"{doc}: `python agent.py {shlex.join(argv)}` is rejected") from e


def test_quickstart_agent_talks_in_the_text_console(tmp_path: Path) -> None:
    """``python agent.py console --text`` with the quickstart's agent (providers faked)."""
    import pty

    project = _project(tmp_path)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, str(LAUNCHER), str(project / "agent.py"), "console", "--text"],
        cwd=project,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=_env(),
        close_fds=True,
    )
    os.close(slave)
    output = ""

    def expect(text: str) -> None:
        nonlocal output
        deadline = time.monotonic() + TIMEOUT
        while text not in output:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{text!r} never came; output:\n{output}")
            ready, _, _ = select.select([master], [], [], min(remaining, 0.5))
            if ready:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    data = b""
                if not data and proc.poll() is not None:
                    raise AssertionError(f"agent.py exited before {text!r}:\n{output}")
                output += data.decode("utf-8", errors="replace")

    try:
        expect("Agent: Hello, I can tell you the weather.")
        os.write(master, b"what is the weather in Paris\r")
        expect("Agent: It is sunny in Paris.")
        os.write(master, b"\x04")
        assert proc.wait(TIMEOUT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def _livekit_project(dst: Path) -> Path:
    src = Path(__file__).parent / "programs"
    dst.mkdir()
    for name in ("restaurant_agent.py", "shop_agent.py", "worker_agent.py"):
        (dst / name).write_text((src / name).read_text(encoding="utf-8"), encoding="utf-8")
    return dst


def _assert_migrated(folder: Path, rewritten_programs: Path) -> None:
    for path in sorted(folder.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert "livekit.agents" not in text and "livekit.plugins" not in text
        assert text == (rewritten_programs / path.name).read_text(encoding="utf-8")


def test_migration_script_rewrites_a_livekit_project(
    tmp_path: Path, rewritten_programs: Path
) -> None:
    project = _project(tmp_path, "migrating-from-livekit.md")
    lk = _livekit_project(tmp_path / "lk")
    proc = subprocess.run(
        [sys.executable, str(project / "migrate.py"), str(lk)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_env(),
    )
    assert proc.returncode == 0, proc.stderr
    assert "3 file(s) changed" in proc.stdout
    _assert_migrated(lk, rewritten_programs)


def test_migration_sed_command_rewrites_a_livekit_project(
    tmp_path: Path, rewritten_programs: Path
) -> None:
    commands = [
        line
        for s in samples("migrating-from-livekit.md", lang="bash")
        for line in s.code.splitlines()
        if line.startswith("sed ")
    ]
    assert len(commands) == 1
    lk = _livekit_project(tmp_path / "lk")
    proc = subprocess.run(
        ["bash", "-c", commands[0]], cwd=lk, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert proc.returncode == 0, proc.stderr
    _assert_migrated(lk, rewritten_programs)


def test_documented_failure_message_is_real(tmp_path: Path) -> None:
    """The assertion output shown in testing-agents.md is what a failing expectation prints."""
    [shown] = samples("testing-agents.md", lang="text")
    project = _project(tmp_path, "testing-agents.md")
    script = project / "failing_expectation.py"
    script.write_text(
        "import asyncio\n"
        "from agent import Visit, WeatherAssistant\n"
        "from test_agent import scripted_llm\n"
        "from voxlane.agents import AgentSession\n\n"
        "async def main() -> None:\n"
        "    async with AgentSession[Visit](llm=scripted_llm(), userdata=Visit([])) as s:\n"
        "        await s.start(WeatherAssistant())\n"
        "        result = await s.run(user_input='Tell me a joke')\n"
        "        result.expect.next_event().is_function_call(name='lookup_weather')\n\n"
        "asyncio.run(main())\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_env(PYTHONPATH=str(project)),
    )
    assert proc.returncode == 1
    assert shown.code.strip() in proc.stderr, proc.stderr
