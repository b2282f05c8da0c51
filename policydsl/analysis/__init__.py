"""The policy analyses over the plan, and the only module that imports z3 (smt.py)."""
