"""The ops endpoint: health, readiness and metrics served by prodserver itself."""
