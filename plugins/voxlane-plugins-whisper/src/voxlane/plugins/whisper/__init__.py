"""Voxlane plugin `whisper`. Model implementations are added as they land; none is registered before it exists."""

from voxlane.agents.plugin import PluginInfo, hookimpl

from .version import __version__

__all__ = ["__version__"]


@hookimpl
def plugin_info() -> PluginInfo:
    return PluginInfo(name="whisper", version=__version__, distribution="voxlane-plugins-whisper")
