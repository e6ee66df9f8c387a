"""The package version, in a module of its own so that nothing imports the package root."""

__version__ = "0.1.0"

#: ``calibration_metadata.schema_version`` of the exported YAML (what ``compare`` and
#: ``NoiseModel`` check before reading a file).
SCHEMA_VERSION = "calib-async/1"
