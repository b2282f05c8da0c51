"""The reference interpreter, the standard-library runtime, examples and batch evaluation."""
