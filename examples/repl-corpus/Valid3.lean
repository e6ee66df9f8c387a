import Mathlib

theorem add_zero_3 (n : Nat) : n + 0 = n := by
  -- standin: sleep 60
  simp
