"""Pure models and maths: no I/O."""
