"""Hidden checks of nn_foundations run in-process on the executed solutions notebook.

Each test swaps one definition in the solution's namespace for a typical mistake and
asserts which check fails and that its feedback names the mistake. These are fast; that the
solutions pass every check is in test_solutions.py, and the grader's whole path in
test_grading_nn_foundations.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import ASSIGNMENT, check_failure, replace_probe, with_changes

from autograder.checks import CheckFailed, run_check
from autograder.checks.suite import load_suite

SUITE = load_suite(ASSIGNMENT)


@pytest.fixture(scope="module")
def solution_env(solution_envs):
    return solution_envs(ASSIGNMENT)


@pytest.fixture(autouse=True)
def in_the_submission_folder(built, monkeypatch):
    """Checks read the submitted notebook from the working directory, as when graded."""
    monkeypatch.chdir(built.solutions_notebook.parent)


def failure(env: dict, check: str) -> str:
    return check_failure(env, ASSIGNMENT, check)


def test_missing_function_says_what_to_define(solution_env):
    env = with_changes(solution_env)
    del env["unroll"]
    assert "`unroll` is not defined" in failure(env, "unroll_single_image")


def test_a_crash_in_student_code_is_quoted(solution_env):
    def unroll(images):
        raise ValueError("boom")
    message = failure(with_changes(solution_env, unroll=unroll), "unroll_grayscale_batches")
    assert "raised ValueError: boom" in message


def test_unroll_returning_a_list_is_refused(solution_env):
    unroll = lambda images: np.asarray(images).reshape(len(images), -1).tolist()
    assert "return a NumPy array" in failure(with_changes(solution_env, unroll=unroll),
                                             "unroll_colour_batches")


def test_unroll_column_major_is_named(solution_env):
    unroll = lambda images: np.stack([i.reshape(-1, order="F") for i in images])
    assert "column by column" in failure(with_changes(solution_env, unroll=unroll),
                                         "unroll_grayscale_batches")


def test_unroll_squeezing_a_single_image_is_caught(solution_env):
    unroll = lambda images: np.squeeze(np.asarray(images).reshape(len(images), -1))
    message = failure(with_changes(solution_env, unroll=unroll), "unroll_single_image")
    assert "returned shape (784,)" in message
    assert "one row per image (1 row here)" in message
    assert "(1, 784)" not in message, "the expected shape of a hidden case is not quoted"


def test_unrolled_length_must_be_an_int(solution_env):
    unrolled_length = lambda shape: float(np.prod(shape))
    assert "return an int" in failure(with_changes(solution_env, unrolled_length=unrolled_length),
                                      "unrolled_length_counts_every_value")


def test_terms_as_a_list_are_refused(solution_env):
    env = with_changes(solution_env, parameters=["coefs_", "intercepts_"])
    assert "make it a set" in failure(env, "parameters_are_learned_values")


def test_forward_returning_a_batch_for_one_example_is_named(solution_env):
    forward = solution_env["forward"]
    as_batch = lambda x, layers: forward(np.atleast_2d(x), layers)
    message = failure(with_changes(solution_env, forward=as_batch), "forward_accepts_a_single_example")
    assert "A single example (a vector) should give a vector" in message


def test_forward_without_activations_is_named(solution_env):
    def forward(x, layers):
        for W, b, _ in layers:
            x = np.asarray(x) @ W + b
        return x
    message = failure(with_changes(solution_env, forward=forward), "forward_single_layer_each_activation")
    assert "no activation is applied" in message


def test_hand_trace_without_bias_is_named(solution_env):
    env = with_changes(solution_env, tiny_hidden_pre=[1.5, -3.0])
    assert "did not add the bias" in failure(env, "hand_trace_hidden_weighted_sums")


def test_hand_trace_output_without_sigmoid_is_named(solution_env):
    assert "apply the sigmoid" in failure(with_changes(solution_env, tiny_output=1.0), "hand_trace_output")


def test_param_count_is_checked_against_random_shapes_not_one_answer(solution_env):
    lookup = lambda n_in, sizes, n_out: 13002
    message = failure(with_changes(solution_env, mlp_param_count=lookup),
                      "mlp_param_count_matches_fitted_models")
    assert "not the number of learned values of a fitted MLPClassifier of that shape" in message


def test_unfitted_mlp_is_told_to_fit(solution_env):
    from sklearn.neural_network import MLPClassifier
    env = with_changes(solution_env, mlp_16x16=MLPClassifier(hidden_layer_sizes=(16, 16)))
    assert "has not been fitted" in failure(env, "mlp_16x16_architecture")


def test_weak_mlp_misses_the_accuracy_threshold(solution_env):
    import warnings

    from sklearn.neural_network import MLPClassifier
    weak = MLPClassifier(hidden_layer_sizes=(16, 16), max_iter=1, learning_rate_init=1e-5,
                         random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weak.fit(solution_env["X_train_flat"], solution_env["y_train"])
    message = failure(with_changes(solution_env, mlp_16x16=weak), "mlp_16x16_reaches_accuracy")
    assert "test images correctly; at least" in message


def test_a_model_that_lies_in_score_gains_nothing(solution_env):
    """The judge computes accuracy from the weights, never from the student's methods."""
    import warnings

    from sklearn.neural_network import MLPClassifier

    class Liar(MLPClassifier):
        def score(self, X, y, sample_weight=None):
            return 1.0

        def predict(self, X):
            return solution_env["y_test"] if len(X) == len(solution_env["y_test"]) else super().predict(X)

    weak = Liar(hidden_layer_sizes=(16, 16), max_iter=1, learning_rate_init=1e-5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weak.fit(solution_env["X_train_flat"], solution_env["y_train"])
    failure(with_changes(solution_env, mlp_16x16=weak), "mlp_16x16_reaches_accuracy")


def test_tuning_on_the_test_set_is_caught_statically(solution_env, monkeypatch):
    cells = ["best = max(lrs, key=lambda lr: MLPClassifier(learning_rate_init=lr)"
             ".fit(X_train_flat, y_train).score(X_test_flat, y_test))"]
    replace_probe(monkeypatch, ASSIGNMENT, "notebook_cells", lambda env, inputs: {"cells": cells})
    message = failure(with_changes(solution_env), "test_set_not_used_for_tuning")
    assert "leaked into tuning" in message
    assert "cell 1" in message


def test_code_that_reaches_data_through_reflection_waits_for_a_person(solution_env, monkeypatch):
    """The static analysis cannot follow `globals()[...]`: no leak is claimed, the question's
    points wait for a TA, and the report lists the submission as code to read."""
    from autograder.checks.judging import WITHHELD
    from autograder.report.html import needs_a_human
    from autograder.results import CaseResult, Status, SubmissionResult
    cells = ["held_out = globals()['X_test' + '_flat']\nprint(held_out.shape)"]
    replace_probe(monkeypatch, ASSIGNMENT, "notebook_cells", lambda env, inputs: {"cells": cells})
    message = failure(with_changes(solution_env), "test_set_not_used_for_tuning")
    assert message.startswith(WITHHELD)
    assert "R reflection, cell 1 line 1" in message
    assert "leaked" not in message
    result = SubmissionResult(ASSIGNMENT, "sly", "sly.ipynb", Status.GRADED, cases=[CaseResult(
        question="q5_tuning", name="test_set_not_used_for_tuning", points=0, score=0, hidden=True,
        message=message, passed=False)])
    assert [row["why"] for row in needs_a_human(ASSIGNMENT, [result]) if row["submission"] == "sly"] == [
        "code to read (reflection)"]


def test_tuning_that_reads_test_globals_is_caught_dynamically(solution_env):
    """A helper the static analysis cannot see through still changes its answer when the
    test set is swapped for other images."""
    from sklearn.neural_network import MLPClassifier
    env = with_changes(solution_env)

    def tune_mlp(X, y, learning_rates, sizes, seed=0):
        test_data = [env[name] for name in ("X_test_flat", "y_test")]  # hidden in a lookup
        best = None
        for lr in learning_rates:
            for size in sizes:
                model = MLPClassifier(hidden_layer_sizes=size, learning_rate_init=lr, max_iter=30,
                                      random_state=seed).fit(X, y)
                accuracy = model.score(*test_data)
                if best is None or accuracy > best["val_accuracy"]:
                    best = {"learning_rate_init": lr, "hidden_layer_sizes": size, "val_accuracy": accuracy}
        return best
    env["tune_mlp"] = tune_mlp
    message = failure(env, "tune_mlp_does_not_read_the_test_set")
    # the swapped test set ranks its candidates upside down: another choice, not a crash
    assert "chose differently when the test set" in message
    assert "swapped for other images" in message
    # the gate withdraws the question's other points, pointing at its evidence, not repeating it
    blocked = failure(env, "tune_mlp_returns_a_choice")
    assert blocked == ("No credit for this part: q5_tuning's test-set check failed "
                       "(see `tune_mlp_does_not_read_the_test_set` above).")


def test_scikit_learns_nan_error_reaches_the_student_as_one_sentence():
    from autograder.checks.nn_foundations.judges import plain_error
    sklearn_error = ("ValueError: Input X contains NaN.\nMLPClassifier does not accept missing values encoded as "
                     "NaN natively. For supervised learning, you might want to consider "
                     "sklearn.ensemble.HistGradientBoostingClassifier and Regressor which accept missing values "
                     "encoded as NaNs natively. Alternatively, it is possible to preprocess the data, for "
                     "instance by using an imputer transformer in a pipeline")
    assert plain_error({"error": sklearn_error}) == "ValueError: an input held NaN values, which scikit-learn refuses"


def _tune_mlp_scoring_on(score_data, *, split_rng=None):
    """A tune_mlp that scores each candidate on ``score_data(X_val, y_val)`` and splits with
    ``split_rng(seed)`` (a student's own split)."""
    from sklearn.neural_network import MLPClassifier

    def tune_mlp(X, y, learning_rates, sizes, seed=0):
        order = (split_rng or np.random.default_rng)(seed).permutation(len(y))
        val, fit = order[: len(y) // 5], order[len(y) // 5:]
        best = None
        for lr in learning_rates:
            for size in sizes:
                model = MLPClassifier(hidden_layer_sizes=size, learning_rate_init=lr, max_iter=30,
                                      random_state=seed).fit(X[fit], y[fit])
                accuracy = model.score(*score_data(X[val], y[val]))
                if best is None or accuracy > best["val_accuracy"]:
                    best = {"learning_rate_init": lr, "hidden_layer_sizes": size, "val_accuracy": accuracy}
        return best
    return tune_mlp


@pytest.fixture
def unseeded_entropy(monkeypatch):
    """``np.random.default_rng()`` without a seed draws from the operating system: a different
    generator at every call, as in a student's kernel. Here each such call gets the next of a
    fixed series of seeds instead, so that what the grader sees is the same on every test run
    (seeded calls are untouched)."""
    real, seeds = np.random.default_rng, iter(range(1000, 2000))

    def default_rng(seed=None):
        return real(next(seeds) if seed is None else seed)
    monkeypatch.setattr(np.random, "default_rng", default_rng)


def test_an_unseeded_tune_mlp_is_not_reproducible_and_never_a_leak(solution_env, unseeded_entropy):
    """Splitting with ``np.random.default_rng()`` (no seed) changes tune_mlp's answer from one
    call to the next: the grader says so, on the check of its answer, and keeps the gate (the
    question's other points) instead of calling the change a test-set leak."""
    unseeded = lambda seed: np.random.default_rng()
    env = with_changes(solution_env, tune_mlp=_tune_mlp_scoring_on(lambda X, y: (X, y), split_rng=unseeded))
    run_check(env, ASSIGNMENT, "tune_mlp_does_not_read_the_test_set")  # the gate passes
    message = failure(env, "tune_mlp_returns_a_choice")
    assert "tune_mlp is not reproducible" in message
    assert "random_state=seed" in message
    assert "not a test-set leak" in message
    for name in ("tune_mlp_picks_the_clear_winner", "final_mlp_refit_on_all_training_data",
                 "final_mlp_uses_the_chosen_settings", "test_accuracy_is_final_models_score"):
        message = ""  # the check may pass; if it fails, its message must not call it a leak
        try:
            run_check(env, ASSIGNMENT, name)
        except CheckFailed as failed:
            message = str(failed)
        assert "No credit" not in message, name
        assert "test set" not in message, name


def test_a_reproducible_tune_mlp_that_scores_on_the_test_set_is_a_leak(solution_env):
    """Scoring candidates on (a cleaned copy of) X_test: the two unchanged runs agree, the run
    with the test set swapped chooses otherwise, so its choice depends on the test set."""
    env = with_changes(solution_env)
    on_test = lambda X, y: (np.nan_to_num(env["X_test_flat"]), env["y_test"])
    env["tune_mlp"] = _tune_mlp_scoring_on(on_test)
    message = failure(env, "tune_mlp_does_not_read_the_test_set")
    assert "gave the same answer twice when run unchanged, but chose differently" in message
    assert "test-set check failed" in failure(env, "tune_mlp_picks_the_clear_winner")


def test_the_leak_evidence_appears_once_in_the_feedback(solution_env, monkeypatch):
    """One feedback file shows the gate's evidence once, on the gate's own case; the checks it
    withdraws point at it."""
    from autograder.assignment import check_points, questions
    from autograder.report.feedback import feedback_markdown
    from autograder.results import CaseResult, Status, SubmissionResult
    cells = ["best = max(lrs, key=lambda lr: MLPClassifier(learning_rate_init=lr)"
             ".fit(X_train_flat, y_train).score(X_test_flat, y_test))"]
    replace_probe(monkeypatch, ASSIGNMENT, "notebook_cells", lambda env, inputs: {"cells": cells})
    env, cases = with_changes(solution_env), []
    for name, (question, points) in check_points(ASSIGNMENT).items():
        if question == "q5_tuning":  # each fails (the static gate, or withdrawn by it) but the other gates
            try:
                run_check(env, ASSIGNMENT, name)
                cases.append(CaseResult(question, name, points, points, True, ""))
            except CheckFailed as failed:
                cases.append(CaseResult(question, name, points, 0.0, True, str(failed), passed=False))
    result = SubmissionResult(ASSIGNMENT, "leaky", "leaky.ipynb", Status.GRADED, cases=cases,
                              possible=sum(q.points for q in questions(ASSIGNMENT)),
                              question_scores={"q5_tuning": 0.0})
    text = feedback_markdown(result)
    assert text.count("leaked into tuning") == 1, text
    gates = len(load_suite(ASSIGNMENT).gates["q5_tuning"])  # the other gates pass here
    assert text.count("test-set check failed (see `test_set_not_used_for_tuning` above)") == len(cases) - gates


def test_the_rebuild_line_names_the_grading_data(solution_env):
    def keeps_the_worst(X, y, learning_rates, sizes, seed=0):  # the weak values are the smaller ones
        return {"learning_rate_init": min(learning_rates), "hidden_layer_sizes": min(sizes, key=sum),
                "val_accuracy": 0.5}
    message = failure(with_changes(solution_env, tune_mlp=keeps_the_worst), "tune_mlp_picks_the_clear_winner")
    assert "on the grader's `digits` data (`data = load_dataset(\"digits\")`" in message


def test_the_tuning_checks_judge_one_run_of_tune_mlp(solution_env):
    """The q5 checks judge properties of one tuning run on one hidden case: the student's
    tune_mlp runs three times per grading (as is, as is again, then with the test set swapped),
    not three times per check (it is the slowest student code the grader calls)."""
    env = with_changes(solution_env)
    student_tune_mlp, calls = env["tune_mlp"], []

    def tune_mlp(*args, **kwargs):
        calls.append(len(args[1]))
        return student_tune_mlp(*args, **kwargs)
    env["tune_mlp"] = tune_mlp
    tuning_checks = [name for name, check in SUITE.checks.items() if check.probe_name == "tuning_runs"]
    assert len(tuning_checks) == 3
    for name in tuning_checks:
        run_check(env, ASSIGNMENT, name)
    assert len(calls) == 3, f"tune_mlp ran {len(calls)} times for {len(tuning_checks)} checks of one run"


def test_the_counterfactual_test_set_looks_like_one_and_is_restored(solution_env):
    """Real images (training rows) of the same shape, dtype and value range, labels in range but
    each moved to the next digit: nothing tells it apart by looking; afterwards the real test set
    is back."""
    from autograder.checks.nn_foundations.probes import blanked_test_set
    env = with_changes(solution_env)
    before = {name: env[name].copy() for name in ("X_test", "X_test_flat", "y_test")}
    with blanked_test_set(env, enabled=True):
        for name, original in before.items():
            swapped = env[name]
            assert swapped.shape == original.shape
            assert swapped.dtype == original.dtype
            assert np.isfinite(swapped).all()
            assert swapped.min() >= original.min()
            assert swapped.max() <= original.max()
            assert not np.array_equal(swapped, original)
        rows_of_train = {row.tobytes() for row in env["X_train_flat"]}
        assert all(row.tobytes() in rows_of_train for row in env["X_test_flat"][:50])
        assert set(np.unique(env["y_test"])) <= set(np.unique(before["y_test"]))
    for name, original in before.items():
        assert np.array_equal(env[name], original)


# the kernel's ledger -------------------------------------------------------------------------

def _ledger(*entries, models=None, tampered=()):
    return {"installed": True, "tampered": list(tampered), "entries": list(entries), "models": models or {}}


def _entry(model, method, rows, cell="cell", **extra):
    return {"model": model, "class": "MLPClassifier", "method": method, "cell": cell, "rows": rows, **extra}


@pytest.fixture(scope="module")
def test_rows():
    from autograder.checks.nn_foundations.judges import test_fingerprints
    return sorted(test_fingerprints())[:40]


def test_a_clean_ledger_scores_only_the_models_the_questions_ask_for(test_rows):
    from autograder.checks.nn_foundations.judges import ledger_findings, test_fingerprints
    ledger = _ledger(_entry(1, "fit", ["train-row"] * 40), _entry(1, "score", test_rows),
                     _entry(2, "fit", ["train-row"] * 40), _entry(2, "score", test_rows),
                     models={"mlp_16x16": 1, "final_mlp": 2})
    assert ledger_findings(ledger, test_fingerprints(), ["mlp_16x16", "final_mlp"]) == []


def test_the_ledger_sees_candidates_scored_on_test_rows_whatever_the_spelling(test_rows):
    """A file round trip or globals() leave the rows the same: the fingerprints match."""
    from autograder.checks.nn_foundations.judges import ledger_findings, test_fingerprints
    ledger = _ledger(*(_entry(model, "score", test_rows, cell="for lr in rates:") for model in (10, 11, 12)),
                     _entry(2, "score", test_rows), models={"final_mlp": 2, "model": 12})
    findings = ledger_findings(ledger, test_fingerprints(), ["mlp_16x16", "final_mlp"])
    assert len(findings) == 1
    assert findings[0].startswith("L1 multi-test: 4 different models")
    assert "`model` (MLPClassifier)" in findings[0]
    assert "`for lr in rates:`" in findings[0]


def test_the_ledger_sees_training_on_test_rows_and_keras_validation_data(test_rows):
    from autograder.checks.nn_foundations.judges import ledger_findings, test_fingerprints
    fitted = _ledger(_entry(5, "fit", test_rows[:30] + ["train-row"] * 10), models={"cheat": 5})
    assert ledger_findings(fitted, test_fingerprints(), [])[0].startswith(
        "L2 training on test: `cheat` (MLPClassifier) was trained on 30 rows of the test set")
    watched = _ledger(_entry(6, "fit", ["train-row"] * 40, validation_rows=test_rows))
    assert "was trained on 40 rows of the test set" in ledger_findings(watched, test_fingerprints(), [])[0]
    few = _ledger(_entry(7, "fit", test_rows[:3] + ["train-row"] * 37))  # a few shared rows are no leak
    assert ledger_findings(few, test_fingerprints(), []) == []


def test_the_ledger_gate_fails_the_question_and_withholds_a_tampered_ledger(solution_env, monkeypatch, test_rows):
    from autograder.checks.judging import WITHHELD
    leaky = _ledger(*(_entry(m, "score", test_rows) for m in (10, 11)), models={"final_mlp": 11})
    replace_probe(monkeypatch, ASSIGNMENT, "kernel_ledger", lambda env, inputs: leaky)
    message = failure(with_changes(solution_env), "the_notebook_ran_no_test_leak")
    assert message.startswith("while your notebook ran")
    assert "costs all of q5_tuning's points" in message
    replace_probe(monkeypatch, ASSIGNMENT, "kernel_ledger", lambda env, inputs: _ledger(tampered=["ClassifierMixin.score"]))
    assert failure(with_changes(solution_env), "the_notebook_ran_no_test_leak").startswith(WITHHELD)
