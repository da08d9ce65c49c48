"""High-level APIs."""
