"""grasp6d subcommands: one module each (see grasp6d_core.cli)."""
