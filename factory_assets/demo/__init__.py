"""Demo data generators: realistic synthetic source files for the demo command, tests and benchmarks.

Synthetic data lets the whole platform run end to end without access to a real plant, while keeping
the quirks (malformed lines, NUL bytes, files still being uploaded) that the ingestion must survive.
"""
