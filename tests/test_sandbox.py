"""The operating-system confinement of a grading child (autograder/grade/sandbox.py)."""

from __future__ import annotations

import ctypes
import encodings.idna  # noqa: F401  (loaded before the child drops to a uid that cannot read it)
import os
import socket

import pytest

from autograder.grade.sandbox import Limits, isolate_network, network_namespace

UNPRIVILEGED = 65534  # nobody
PR_SET_DUMPABLE = 4  # a root process that drops its uid is made undumpable: /proc/self turns root-owned


def in_child(action) -> int:
    """Run ``action`` in a forked child and return its exit code (the test's own process must
    keep its namespaces)."""
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(action())
        except BaseException:
            os._exit(99)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def reaches(port: int) -> int:
    """0: connected to the grader's loopback server; 1: refused or unreachable."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
        return 0
    except OSError:
        return 1


@pytest.fixture
def server():
    with socket.create_server(("127.0.0.1", 0)) as listening:
        yield listening.getsockname()[1]


def test_without_isolation_the_loopback_server_is_reachable(server):
    assert in_child(lambda: reaches(server)) == 0


def test_an_isolated_process_has_its_own_loopback_and_nothing_else(server):
    def isolated() -> int:
        before = network_namespace()
        if not isolate_network() or network_namespace() == before:
            return 2
        with socket.create_server(("127.0.0.1", 0)):  # its own loopback works (kernel ↔ client)
            pass
        return reaches(server)
    assert in_child(isolated) == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become an unprivileged user")
def test_an_unprivileged_grader_gets_the_namespace_through_a_user_namespace(server):
    def unprivileged() -> int:
        os.setgid(UNPRIVILEGED)
        os.setuid(UNPRIVILEGED)
        ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 1)  # as a user who logged in as nobody would be
        if not isolate_network():
            return 2
        return reaches(server) if os.geteuid() == UNPRIVILEGED else 3
    assert in_child(unprivileged) == 1


def test_limits_read_from_grading_toml_keep_defaults_for_missing_keys():
    limits = Limits.from_config({"memory_mb": 100, "network": False})
    assert (limits.memory_mb, limits.network, limits.cell_timeout) == (100, False, None)
    assert Limits.from_config({}).network is True
