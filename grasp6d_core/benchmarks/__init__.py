"""Benchmarks for `grasp6d bench NAME`: one module each, defining HELP, a frozen settings dataclass (SETTINGS),
add_arguments(parser) whose flags are its fields, and run(settings) -> dict of figures. ``grasp6d bench`` imports
every benchmark module to list its flags, so each imports what it measures (torch, the model) inside run()."""
