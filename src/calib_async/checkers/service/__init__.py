"""``kind: service``: calibrate a verification service over HTTP (kimina-lean-server first).

Modules: :mod:`.kind` (the kind), :mod:`.settings` (profile keys), :mod:`.checker` (one request
per check), :mod:`.transport` (bounded HTTP), :mod:`.adapter` and :mod:`.kimina` (the API),
:mod:`.answer` (outcomes and sub-reasons), :mod:`.strict` (strictness a tier adds),
:mod:`.leak` (state-leak canary pairs), :mod:`.summary` (what the export shows).
"""

from calib_async.checkers.service.kind import KIND

__all__ = ["KIND"]
