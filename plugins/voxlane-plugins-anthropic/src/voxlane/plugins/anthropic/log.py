"""The plugin's logger."""

import logging

logger = logging.getLogger("voxlane.plugins.anthropic")
