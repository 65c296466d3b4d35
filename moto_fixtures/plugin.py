"""Pytest plugin entry point; the fixtures are defined in the backend modules."""
