"""grasp6d subcommands: one module each, registered (name, module, help line) in grasp6d_core.cli.COMMANDS."""
