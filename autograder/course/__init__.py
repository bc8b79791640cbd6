"""Running a course after ``autograder grade`` (SPEC §8): the steps course staff take with the
graded submissions and the same output folder.

* ``roster`` and ``export``: matching files to students and writing an LMS's import file
  (``autograder export``);
* ``similarity``: pairs of submissions whose own code is unusually similar
  (``autograder similarity``).

This package sits above grading, the report and the batch: it may import them, and none of
them imports it (the report reads what it writes, ``similarity.json``, as a file).
"""
