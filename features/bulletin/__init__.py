"""The bulletin feature."""
