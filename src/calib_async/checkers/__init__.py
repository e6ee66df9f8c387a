"""Checkers: one package per kind behind one seam (:mod:`calib_async.checkers.api`)."""
