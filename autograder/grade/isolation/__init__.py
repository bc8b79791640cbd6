"""Isolation: everything that holds the student's code, each read back from outside.

One word for the whole, one for the program: *isolation* is every protection of a
submission, *the jail* is the program that starts the student's kernel inside the strongest
of them.

* ``limits``: what one submission may use (``Limits``: CPU time per cell, memory, file size,
  processes, disk, network) and ``confine``, which applies them to a process between fork
  and exec (rlimits, its cgroup, death with its parent, no network), for the grading child
  and the jail alike; each child's share of the cores (``THREAD_VARIABLES``);
* ``cgroups``: a submission's cgroups (processes, memory, cores), the CPU time it used, and
  the killing of everything it started;
* ``namespaces``: the network namespace with loopback only, the user namespace that gives
  root without CAP_SYS_ADMIN its rights back, what a process does not share with us;
* ``jail``: ``python -m autograder.grade.isolation.jail SETTINGS -- COMMAND``: a view of its
  own (mount, PID, IPC and UTS namespaces, a root holding only what Python needs), a user of
  its own, no capabilities, then ``seccomp``'s filter, and the command;
* ``seccomp``: the system calls a notebook never makes, refused.

What a kernel obtained of these is listed, per submission, under ``protections``.
"""
