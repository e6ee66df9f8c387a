"""Configuration: tiers and checker profiles (the YAML schema and built-in defaults), the run
configuration, and the checker set-up of a run."""
