import Mathlib

theorem add_zero_2 (n : Nat) : n + 0 = n := by
  -- standin: sleep 40
  simp
