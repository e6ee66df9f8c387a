"""``kind: service``: calibrate a verification service over HTTP (kimina-lean-server first).

Modules: :mod:`.kind` (the kind), :mod:`.settings` (profile keys), :mod:`.checker` (one request
per check), :mod:`.transport` (bounded HTTP), :mod:`.adapter` and :mod:`.kimina` (the API),
:mod:`.answer` (outcomes and sub-reasons), :mod:`.strict` (strictness a tier adds).
"""
