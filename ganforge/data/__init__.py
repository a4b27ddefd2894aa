"""Data: sources that load into memory, and the seeded batch stream the engine draws from."""
