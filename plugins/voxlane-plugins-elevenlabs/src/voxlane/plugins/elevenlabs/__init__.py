"""Voxlane plugin `elevenlabs`.

Model implementations are registered as they land; nothing is registered before it exists.
"""

from voxlane.agents.plugin import PluginInfo, hookimpl

from .version import __version__

__all__ = ["__version__"]


@hookimpl
def plugin_info() -> PluginInfo:
    return PluginInfo(
        name="elevenlabs", version=__version__, distribution="voxlane-plugins-elevenlabs"
    )
