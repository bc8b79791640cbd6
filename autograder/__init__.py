"""Course package for the neural-networks-on-digits lesson.

This top-level module stays import-free on purpose: the student version of every
assignment ships a copy of ``autograder.data`` and ``autograder.seeding`` inside a bare
``autograder`` package, so nothing here may pull in grading code.
"""

__version__ = "0.1.0"
