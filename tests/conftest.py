"""End-to-end tests across packages: shared fixtures."""
