"""The hooks a Voxlane plugin may implement (pluggy project name ``"voxlane"``).

A plugin distribution declares ``[project.entry-points."voxlane.plugins"] <name> = "<module>"``;
the module holds functions decorated with :data:`hookimpl`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .registry import PluginInfo, ProviderRegistry

hookspec = pluggy.HookspecMarker("voxlane")
hookimpl = pluggy.HookimplMarker("voxlane")


class VoxlaneHookSpecs:
    """Hook specifications. Every hook is optional for a plugin."""

    @hookspec
    def register_providers(self, registry: ProviderRegistry) -> None:
        """Register factories for the model kinds this plugin provides."""

    @hookspec
    def download_files(self) -> None:
        """Fetch or prepare model files so the plugin works offline afterwards."""

    @hookspec
    def plugin_info(self) -> PluginInfo | None:
        """Describe the plugin: name, version, supported core range, homepage."""
