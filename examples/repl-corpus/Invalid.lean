import Mathlib

theorem wrong (n : Nat) : n + 1 = n := by
  -- standin: error unsolved goals
  simp
