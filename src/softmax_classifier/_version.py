"""The package version, in one place (read by the build, pyproject.toml, and by model files)."""

__version__ = "0.1.0"
