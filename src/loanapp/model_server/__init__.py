"""The internal model server: versions, aliases and verified artifacts of the registry over HTTP."""
