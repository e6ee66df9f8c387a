import Mathlib

theorem noisy : True := by
  -- standin: stderr 1048576
  trivial
