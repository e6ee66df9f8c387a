import Mathlib

theorem add_zero_1 (n : Nat) : n + 0 = n := by
  -- standin: sleep 20
  simp
