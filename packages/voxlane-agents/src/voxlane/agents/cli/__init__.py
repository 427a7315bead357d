"""Command-line entry points: `voxlane` and `cli.run_app`."""
