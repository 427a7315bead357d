"""Hook implementations of the example third-party plugin."""

from voxlane.agents.plugin import PluginInfo, hookimpl

from .version import __version__


@hookimpl
def plugin_info() -> PluginInfo:
    return PluginInfo(name="tone", version=__version__, distribution="voxlane-example-tone-tts")
