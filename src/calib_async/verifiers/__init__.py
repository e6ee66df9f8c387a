"""Checker profiles: how to build a checker's argv and how to classify a finished run."""
