import Mathlib

theorem heavy : True := by
  -- standin: heartbeats 300000
  trivial
