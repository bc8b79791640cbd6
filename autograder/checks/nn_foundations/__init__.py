"""Hidden checks of the nn_foundations assignment: probes.py (student side), judges.py (grader side)."""
