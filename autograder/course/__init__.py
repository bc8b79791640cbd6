"""Running a course after ``autograder grade`` (SPEC §8): the steps course staff take with the
graded submissions and the same output folder.

* ``roster`` and ``export``: matching files to students and writing an LMS's import file
  (``autograder export``);
* ``similarity``: pairs of submissions whose own code is unusually similar
  (``autograder similarity``);
* ``manual``: one page per manual question with every submission's answer and figures, and the
  ``manual_scores.csv`` a TA fills (``autograder manual``). The filled file, and
  ``overrides.csv``, are applied by the report layer (``report.corrections``) whenever
  ``autograder grade`` writes its outputs, since a TA's scores belong in every file it writes.

This package sits above grading, the report and the batch: it may import them, and none of
them imports it (the report reads what it writes, ``similarity.json``, as a file).
"""
