"""The grader's code that runs inside the student's kernel, kept as a module so linters and
type checkers read it; the split runner sends each function's source (the grader's package
is not on the kernel's disk), never imports it for itself.

* :func:`__autograder_snapshot__` runs before the student's cells. It refuses audit hooks
  from then on (an audit hook cannot be removed once added, and it would see the probes
  being compiled), and keeps, in the closure of the ``__autograder_restore__`` it returns,
  what a fresh kernel has: the built-ins, IPython's event callbacks and input and AST
  transformers, the import hooks, the trace and profile functions, the threads.
* :func:`cap_cell_output` runs with it: past the grader's budget, a cell's printed output
  is dropped in the kernel rather than sent and then thrown away.
* ``__autograder_restore__(sources, assignment)`` is called once the cells have run, as a
  *user expression* of a silent request (``StudentKernel.evaluate``): IPython evaluates it
  without input or AST transformers and without the run-cell events. It puts back what the
  snapshot kept, reports each hook the notebook's own code had installed, installs the
  probe modules from their source and defines ``__autograder_answer__``, the one function
  the judge calls, the same way, once per probe.

All of this lives in the student's process, which can still reach it (``gc``, frames): the
report can only add evidence, never clear it. The judge decides from the submitted file
(``checks/hooks.py``), and binds every answer to the digest the probe returned, so a reply
rewritten after the probe returned is noticed.
"""

# No ``from __future__ import annotations`` here: sent to the kernel, it would change how the
# student's later cells compile. Annotations the kernel cannot evaluate are strings.
import inspect
from collections.abc import Callable
from typing import Any


def __autograder_snapshot__() -> "Callable[..., str]":  # one closure, sent as one cell
    import builtins
    import json
    import os
    import sys
    import threading

    from IPython import get_ipython

    shell = get_ipython()
    saved_builtins = dict(vars(builtins))
    refused: list[str] = []

    def refuse_audit_hooks(event: str, args: "Any") -> None:
        if event == "sys.addaudithook":
            refused.append("an audit hook (sys.addaudithook): refused")
            raise RuntimeError("audit hooks are not allowed while grading")

    sys.addaudithook(refuse_audit_hooks)
    ledger = start_ledger(shell)  # before the events are kept: its callback is the grader's
    ledger_probe = LEDGER_PROBE
    events = {name: list(callbacks) for name, callbacks in shell.events.callbacks.items()}
    transformers = {name: list(getattr(shell, name)) for name in
                    ("input_transformers_cleanup", "input_transformers_post", "ast_transformers")}
    import_hooks: dict[str, list[Any]] = {"meta_path": list(sys.meta_path), "path_hooks": list(sys.path_hooks)}
    threads = set(threading.enumerate())
    libraries = tuple(os.path.realpath(p) + os.sep for p in
                      {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix})
    reported: set[str] = set()
    installed: dict[str, Any] = {}

    def origin(thing: "Any") -> str:
        """The file the code of a hook comes from: a library's, or the notebook's own."""
        thing = getattr(thing, "__func__", None) or getattr(thing, "func", None) or thing
        code = getattr(thing, "__code__", None)
        if code is not None:
            return code.co_filename
        kind = thing if isinstance(thing, type) else type(thing)
        for value in vars(kind).values():  # a class's own methods say where it was written
            value = getattr(value, "__func__", value)
            if getattr(value, "__code__", None) is not None:
                return value.__code__.co_filename
        return getattr(sys.modules.get(kind.__module__), "__file__", None) or "<built-in>"

    def the_students(thing: "Any") -> bool:
        where = origin(thing)
        return where != "<built-in>" and not os.path.realpath(where).startswith(libraries)

    def name_of(thing: "Any") -> str:
        return getattr(thing, "__qualname__", None) or type(thing).__qualname__

    def report(found: "list[str]", what: str) -> None:
        if what not in reported:
            reported.add(what)
            found.append(what)

    def restore(sources: "list[tuple[str, str]] | None" = None, assignment: str = "") -> str:
        ledger["closed"] = True  # what the notebook did is recorded; the probes' own calls are not
        builtins.__dict__.update(saved_builtins)
        found: list[str] = []
        for what in refused:
            report(found, what)
        for name, callbacks in shell.events.callbacks.items():
            for callback in callbacks:
                if callback not in events.get(name, ()) and the_students(callback):
                    report(found, f"an IPython event callback on {name} ({name_of(callback)})")
            callbacks[:] = events.get(name, [])
        for name, original in transformers.items():
            current = getattr(shell, name)  # IPython's own lists (some behind properties): reset in place
            for transformer in current:
                if transformer not in original and the_students(transformer):
                    report(found, f"an IPython {name.replace('_', ' ')[:-1]} ({name_of(transformer)})")
            current[:] = original
        for attribute in ("user_expressions", "_format_user_obj", "run_cell", "run_cell_async",
                          "transform_cell", "run_ast_nodes", "run_code"):
            if attribute in vars(shell):
                report(found, f"IPython's shell.{attribute} replaced")
                delattr(shell, attribute)
        for label, get, put in (("trace", sys.gettrace, sys.settrace), ("profile", sys.getprofile, sys.setprofile)):
            hook = get()
            if hook is not None and the_students(hook):
                report(found, f"a {label} function (sys.set{label}: {name_of(hook)})")
            put(None)
        for label, attribute, put in (("trace", "_trace_hook", threading.settrace),
                                      ("profile", "_profile_hook", threading.setprofile)):
            hook = getattr(threading, attribute, None)
            if hook is not None and the_students(hook):
                report(found, f"a {label} function for new threads (threading.set{label}: {name_of(hook)})")
            put(None)
        hook_lists: list[tuple[str, list[Any]]] = [("meta_path", sys.meta_path), ("path_hooks", sys.path_hooks)]
        for label, hooks in hook_lists:
            for finder in [h for h in hooks if h not in import_hooks[label] and the_students(h)]:
                report(found, f"an import hook (sys.{label}: {name_of(finder)})")
                hooks.remove(finder)
        for thread in threading.enumerate():
            target = getattr(thread, "_target", None) or getattr(type(thread), "run", None)
            if thread not in threads and thread.is_alive() and the_students(target):
                report(found, f"a thread the notebook started still running ({name_of(target)})")
        if sources is not None:
            install(sources, assignment)
        return json.dumps(found)

    def install(sources: "list[tuple[str, str]]", assignment: str) -> None:
        import types
        for package in ("autograder.checks", "autograder.checks." + assignment):
            module = types.ModuleType(package)
            module.__path__ = []
            sys.modules[package] = module
        for name, source in sources:
            module = types.ModuleType(name)
            sys.modules[name] = module
            saved_builtins["exec"](saved_builtins["compile"](source, "<grader " + name + ">", "exec"),
                                   module.__dict__)
            installed[name] = module
        installed["probes"] = installed["autograder.checks." + assignment + ".probes"]
        shell.user_ns["__autograder_answer__"] = answer

    def answer(probe: str, seed: int, request: str, reply: str) -> str:
        import hashlib
        found = json.loads(restore())
        from autograder.seeding import seed_everything
        channel = installed["autograder.checks.channel"]
        probing = installed["autograder.checks.probing"]
        with open(request, "rb") as stream:
            inputs = channel.decode(stream.read())
        seed_everything(seed)
        try:
            answers = (ledger["report"]() if probe == ledger_probe
                       else getattr(installed["probes"], probe)(shell.user_ns, inputs))
        except probing.ProbeFailure as failure:
            answers = probing.failure_answer(str(failure))
        data = channel.encode(answers)
        with open(reply, "xb") as stream:
            stream.write(data)
        return json.dumps({"digest": hashlib.sha256(data).hexdigest(), "found": found})

    return restore


# characters of a cell's output the grader keeps (``student_kernel.BoundedOutputClient``); the
# rest is counted, not stored. Here, with the kernel's side of it, which the grader imports.
OUTPUT_BUDGET = 2 << 20
# characters of a cell's printed output the kernel sends (``cap_cell_output``): under the
# grader's budget by room for the messages' own JSON and the note, so the note is kept
KERNEL_OUTPUT_BUDGET = OUTPUT_BUDGET - (64 << 10)
LEDGER_PROBE = "kernel_ledger"  # answered by the snapshot's ledger itself, not by a probe module


def start_ledger(shell: "Any") -> "dict[str, Any]":  # one closure, sent with the snapshot
    """The ledger: while the notebook's cells run, every fit, score, evaluate and predict of a
    scikit-learn MLP or a Keras model is recorded with the model's identity, the call, the
    cell (its first line) and the fingerprints of the rows it was given (and of Keras'
    ``validation_data``). The judge matches those against the test set's own fingerprints,
    so copies, aliases, ``globals()`` and file round trips do not hide a leak. Classes loaded
    later are wrapped before the next cell (``pre_run_cell``). It lives in the student's
    process: it can only add findings; methods put back or replaced by the notebook are
    reported as tampering."""
    import functools
    import sys

    try:
        from autograder.fingerprints import row_fingerprints
    except ImportError:  # a kernel folder without the runtime's fingerprints: no ledger, nothing broken
        return {"closed": True, "report": lambda: {"installed": False, "tampered": [], "entries": [], "models": {}}}

    entries: list[dict[str, Any]] = []
    wrappers: dict[tuple[type, str], Any] = {}
    state: dict[str, Any] = {"closed": False, "cell": ""}
    targets = (("sklearn.neural_network", ("MLPClassifier", "MLPRegressor"),
                ("fit", "partial_fit", "score", "predict", "predict_proba")),
               ("keras", ("Model",), ("fit", "evaluate", "predict", "train_on_batch", "test_on_batch")))

    def wrap(kind: type, method: str) -> None:
        owner = next((base for base in kind.__mro__ if method in vars(base)), None)  # where it is defined
        if owner is None or (owner, method) in wrappers:
            return
        original = vars(owner)[method]
        kind = owner

        @functools.wraps(original)
        def recorded(self: "Any", *args: "Any", **kwargs: "Any") -> "Any":
            if not state["closed"]:
                data = args[0] if args else kwargs.get("X", kwargs.get("x"))
                entry = {"model": id(self), "class": type(self).__name__, "method": method,
                         "cell": state["cell"], "rows": row_fingerprints(data)}
                validation = kwargs.get("validation_data")
                if isinstance(validation, (tuple, list)) and validation:
                    entry["validation_rows"] = row_fingerprints(validation[0])
                entries.append(entry)
            return original(self, *args, **kwargs)
        wrappers[(kind, method)] = recorded
        setattr(kind, method, recorded)

    def wrap_loaded(*_: "Any") -> None:
        for module_name, class_names, methods in targets:
            module = sys.modules.get(module_name)
            for class_name in class_names if module is not None else ():
                kind = getattr(module, class_name, None)
                if isinstance(kind, type):
                    for method in methods:
                        wrap(kind, method)

    def before_cell(info: "Any") -> None:
        lines = (getattr(info, "raw_cell", "") or "").strip().splitlines()
        state["cell"] = lines[0][:80] if lines else ""
        wrap_loaded()

    def report() -> "dict[str, Any]":
        tampered = [f"{kind.__name__}.{method}" for (kind, method), recorded in wrappers.items()
                    if vars(kind).get(method) is not recorded]
        models = {name: id(value) for name, value in shell.user_ns.items()
                  if not name.startswith("_") and any(id(value) == e["model"] for e in entries)}
        return {"installed": bool(wrappers), "tampered": tampered, "entries": entries, "models": models}

    wrap_loaded()
    shell.events.register("pre_run_cell", before_cell)
    state["report"] = report
    return state


def cap_cell_output(budget: int) -> None:  # one closure, sent with the snapshot
    """Stop sending a cell's printed output once it passes ``budget`` characters.

    The grader keeps at most OUTPUT_BUDGET characters of a cell's output whatever the kernel
    sends (``student_kernel.BoundedOutputClient``), but every message it is sent still costs
    both processes: a gigabyte printed cost about 26 CPU-seconds, half in the kernel (each
    message serialized and signed) and half in the grader (each checked and parsed), for
    output that was then thrown away. Here the kernel's own streams drop what the grader
    would, before it becomes a message, and say so once per cell. What goes to the process's
    file descriptors (``os.write(1, ...)``, a library's C code) reaches the same streams through
    ipykernel's pipe watcher.

    The cap is a property on a subclass of the stream's class, in front of whatever ``write``
    is assigned to the stream: IPython assigns its own around every cell (to keep the output
    in its history) and puts back the one it found, so a cap assigned the same way would be
    gone after one cell. A write that reaches the cap again through those wrappers passes.
    Code in the notebook can undo this; then it only pays for its output itself, and the
    grader's own budget still holds."""
    import sys
    import threading

    sent: dict[str, int] = {}
    inside = threading.local()
    note = (f"\n[this cell printed more than {budget:,} characters; "
            "the grader keeps no more, and the rest was not sent]\n")

    def capped(stream: "Any", write: "Any", string: "Any") -> "Any":
        if getattr(inside, "writing", False) or not isinstance(string, str):
            return write(string)
        header = stream.parent_header
        cell = header.get("msg_id", "") if isinstance(header, dict) else ""
        before = sent.get(cell, 0)
        sent[cell] = before + len(string)
        inside.writing = True
        try:
            if before + len(string) <= budget:
                return write(string)
            if before <= budget:
                write(string[:budget - before] + note)
            return len(string)
        finally:
            inside.writing = False

    def cap(stream: "Any") -> None:
        kind = type(stream)
        assigned: dict[str, Any] = {}  # the write assigned to the stream, if any

        def get(self: "Any") -> "Any":
            inner = assigned.get("write") or (lambda string: kind.write(self, string))

            def write(string: "Any") -> "Any":
                return capped(self, inner, string)
            write.inner = assigned.get("write")  # type: ignore[attr-defined]
            return write

        def put(self: "Any", value: "Any") -> None:
            assigned["write"] = value.inner if hasattr(value, "inner") else value

        def remove(self: "Any") -> None:
            assigned.pop("write", None)
        stream.__class__ = type(kind.__name__, (kind,), {"write": property(get, put, remove),
                                                         "__module__": kind.__module__})

    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "parent_header"):  # ipykernel's OutStream
            cap(stream)


def source_of(function: Callable[..., Any]) -> str:
    """A function of this module as the text of a cell that defines it in the kernel."""
    return inspect.getsource(function)


# the first cell the kernel runs, before any of the student's
SNAPSHOT_CELL = (source_of(cap_cell_output) + "\n" + source_of(__autograder_snapshot__) + "\n"
                 + source_of(start_ledger)
                 + f"\nLEDGER_PROBE = {LEDGER_PROBE!r}\n"
                 + f"cap_cell_output({KERNEL_OUTPUT_BUDGET})\n"
                 + "__autograder_restore__ = __autograder_snapshot__()\n"
                 "del __autograder_snapshot__, start_ledger, LEDGER_PROBE, cap_cell_output\n")


def install_expression(sources: list[tuple[str, str]], assignment: str) -> str:
    """The expression that resets the kernel, installs the probes and reports hooks (JSON)."""
    return f"__autograder_restore__({sources!r}, {assignment!r})"


def answer_expression(probe: str, seed: int, request: str, reply: str) -> str:
    """The expression that has one probe answer: inputs read from ``request``, answers to
    ``reply``; it evaluates to JSON with the reply's digest and any hook found meanwhile."""
    return f"__autograder_answer__({probe!r}, {seed}, {request!r}, {reply!r})"
