import Mathlib

theorem add_zero_4 (n : Nat) : n + 0 = n := by
  -- standin: sleep 80
  simp
