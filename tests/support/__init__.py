"""Test support shared by the tests and the benchmarks: harness, factories, databases, faults."""
