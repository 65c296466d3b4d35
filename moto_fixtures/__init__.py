"""Pytest fixtures that run real object-store emulators (moto, fake-gcs-server, Azurite) on loopback."""
