"""Pytest fixtures running real object-store emulators (moto, fake-gcs-server, Azurite)."""
