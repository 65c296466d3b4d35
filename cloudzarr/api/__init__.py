"""Top-level functions: ``asynchronous`` (the core) and ``synchronous`` (thin wrappers)."""
