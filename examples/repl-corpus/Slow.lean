import Mathlib

theorem slow : True := by
  -- standin: sleep 3000
  trivial
