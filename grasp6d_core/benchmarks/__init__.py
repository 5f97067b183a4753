"""Benchmarks for `grasp6d bench NAME`: one module each, defining NAME, HELP, add_arguments(parser) and run(args) -> dict."""
