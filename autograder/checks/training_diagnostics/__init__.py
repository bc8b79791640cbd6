"""Hidden checks of the training_diagnostics assignment: probes.py (student side), judges.py (grader side)."""
