"""The feedback feature."""
