"""Hidden checks of the keras_networks assignment: probes.py (student side), judges.py (grader side)."""
