import Mathlib

theorem add_zero_5 (n : Nat) : n + 0 = n := by
  -- standin: sleep 100
  simp
