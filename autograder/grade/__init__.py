"""Grading one submission: a runner in a child process, the student's kernel jailed.

The processes, for one submission of a batch (``autograder grade``)::

    grader (autograder grade: the batch, one thread per submission graded at once)
    └── zygote               processes.zygote: imported the split runner's and the judges'
        │                    libraries once; forks a grading child per submission
        └── grading child    processes.grading_child starts it, a runner (runners.split)
            │                runs in it: the judges, in a session and cgroup of its own,
            │                confined (isolation.limits) before it reads the submission
            └── kernel template    processes.kernel_template: forked by the grading child
                │                  before it read anything; becomes the kernel when asked
                └── init           isolation.jail: PID 1 of the kernel's namespaces, builds
                    │              its view, drops privileges, reaps orphans
                    └── kernel     ipykernel, under isolation.seccomp's filter: the only
                                   process that runs student code (kernel.student_kernel
                                   drives it from the grading child)

Where no zygote can be used (a single submission, a Dask worker), the grading child is a
fresh interpreter (``python -m autograder.grade.runners RUNNER …``) and its kernel a fresh
one, started through the jail (``python -m autograder.grade.isolation.jail``: the jail
process, outside, then init, then the kernel). On Gradescope, ``autograder.gradescope`` is
the grading child itself.

The subpackages, from the processes down to the operating system:

* ``processes``: start the grading child (``grade_in_child``), the zygote, the kernel
  template, and the typed requests that cross between them;
* ``runners``: what the grading child does (``Runner``: ``split``, the judges outside the
  student's process; ``otter``, ``otter run`` for plain Otter tests), ``runner_for(name)``,
  ``choose_runner``, the one default (``DEFAULT_RUNNER``);
* ``kernel``: driving the student's kernel (``student_kernel``), the code that runs inside it
  (``bootstrap``), and the judge's client for probes (``probe_client``);
* ``isolation``: limits, cgroups, namespaces, the jail and its seccomp filter;

and, beside them, ``intake`` (what a submitted file is, and whether it can be graded) and
``records`` (a ``SubmissionResult`` from what grading produced). The autograder zip's layout
and its reader are ``autograder.bundle``; a batch is ``autograder.batch``; the Gradescope entry
point is ``autograder.gradescope``.
"""
