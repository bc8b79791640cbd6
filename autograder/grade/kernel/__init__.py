"""The student's kernel, driven from the grading child.

* ``student_kernel``: ``StudentKernel`` starts the kernel in the jail (or from the kernel
  template) and runs the notebook's cells and the grader's expressions in it, each under the
  per-cell limit in CPU time (``CpuWatch``), replacing a kernel that dies or hangs;
* ``bootstrap``: the grader's code that runs inside the kernel, sent as source (the snapshot
  cell before the student's, the probes' reset and install after them, the ledger);
* ``probe_client``: ``ProbeClient``, the judge's client for probes, and ``ProbeFolders``, the
  folders their inputs and answers cross.
"""
