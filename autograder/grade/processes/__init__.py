"""The processes grading starts, and what crosses between them.

* ``grading_child``: ``grade_in_child``, the grader's side: start a grading child (forked
  from the zygote, or a fresh interpreter), confine it, wait for it within the time limit,
  read its outcome; ``stop_grading_children`` for Ctrl-C;
* ``zygote``: one process per grader that imported the split runner's libraries once and
  forks a grading child per submission;
* ``kernel_template``: forked by the grading child before it reads anything, it becomes the
  student's kernel in the jail when asked (``LaunchRequest``);
* ``requests``: the typed jobs, requests and replies (``ChildJob``, ``ForkRequest``,
  ``Forked``, ``ForkRefused``, ``ChildExited``).
"""
