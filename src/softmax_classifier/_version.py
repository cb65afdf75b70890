"""The package version, in one place (read by hatchling and by model files)."""

__version__ = "0.1.0"
