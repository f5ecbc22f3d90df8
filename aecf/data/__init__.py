"""The digits benchmark and its parts (docs/architecture.md, "Raw benchmark"); its directory is
`aecf.paths.BENCHMARK_DIR`."""
