"""Voxlane plugin `cartesia`.

Model implementations are registered as they land; nothing is registered before it exists.
"""

from voxlane.agents.plugin import PluginInfo, hookimpl

from .version import __version__

__all__ = ["__version__"]


@hookimpl
def plugin_info() -> PluginInfo:
    return PluginInfo(name="cartesia", version=__version__, distribution="voxlane-plugins-cartesia")
