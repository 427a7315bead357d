"""What users install: the wheel carries the ONNX model and its licence, and no torch anywhere.

The wheel is built from this source tree with ``uv build --offline`` (the build backend comes
from uv's cache, filled when the workspace was synced), so the test needs no network.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import zipfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from voxlane.plugins.silero import bundled_model_path

PLUGIN_DIR = Path(__file__).resolve().parents[1]
WORKSPACE = PLUGIN_DIR.parents[1]
TORCH_LIKE = re.compile(r"^(torch|torchaudio|torchvision|nvidia-.*|triton|silero-vad)$")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_built_wheel_ships_the_model_and_its_licence(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    assert uv, "uv is needed to build the plugin's wheel (pip install uv)"
    build = subprocess.run(
        [uv, "build", "--wheel", "--offline", "--out-dir", str(tmp_path), str(PLUGIN_DIR)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = tmp_path.glob("voxlane_plugins_silero-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        model = zf.read("voxlane/plugins/silero/resources/silero_vad.onnx")
        licence = zf.read("voxlane/plugins/silero/resources/LICENSE.silero_vad").decode()
        requires = [
            line.split(":", 1)[1].strip()
            for line in zf.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
            .decode()
            .splitlines()
            if line.startswith("Requires-Dist:")
        ]
    # byte for byte the model the plugin loads from the source tree
    expected = hashlib.sha256(bundled_model_path().read_bytes()).hexdigest()
    assert hashlib.sha256(model).hexdigest() == expected
    assert "MIT License" in licence and "Silero Team" in licence
    assert {_norm(Requirement(r).name) for r in requires} == {
        "voxlane-agents",
        "onnxruntime",
        "numpy",
    }


def _closure(root: str) -> set[str]:
    """Installed distributions ``root`` needs here (markers evaluated, extras followed)."""
    seen: set[str] = set()
    todo: list[tuple[str, frozenset[str]]] = [(root, frozenset())]
    while todo:
        name, extras = todo.pop()
        key = _norm(name)
        if key in seen and not extras:
            continue
        seen.add(key)
        for line in metadata.requires(name) or []:
            req = Requirement(line)
            wanted = (
                req.marker is None
                or any(req.marker.evaluate({"extra": e}) for e in extras)
                or req.marker.evaluate({"extra": ""})
            )
            if wanted:
                try:
                    metadata.distribution(req.name)
                except metadata.PackageNotFoundError:
                    continue  # a dependency that is not installed here cannot pull anything
                todo.append((req.name, frozenset(req.extras)))
    return seen


def test_no_torch_in_the_installed_dependency_tree() -> None:
    tree = _closure("voxlane-plugins-silero")
    assert {"voxlane-agents", "onnxruntime", "numpy"} <= tree
    assert not {d for d in tree if TORCH_LIKE.match(d)}, sorted(tree)


def test_no_torch_anywhere_in_the_workspace_lock() -> None:
    lock = (WORKSPACE / "uv.lock").read_text(encoding="utf-8")
    # every locked package starts a [[package]] table with its name on the next line
    names = {_norm(n) for n in re.findall(r'^\[\[package\]\]\nname = "([^"]+)"', lock, re.M)}
    assert len(names) > 50
    assert "voxlane-plugins-silero" in names and "onnxruntime" in names
    assert not {n for n in names if TORCH_LIKE.match(n)}, sorted(names)
