"""Every sentence a student reads, and the pieces they are built from.

A verdict says what happened, in the student's own spelling (the expression as written and
the data set it derives from), where (a helper's call site when the test data came through
one), and what to do instead. Rewording a verdict happens here only; the rules decide when
each is said.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from autograder.checks.leakage.cells import short_source
from autograder.checks.leakage.events import Call
from autograder.checks.leakage.values import TEST, Anchor, Atom, Value

# The advice's last words; once the final model is known they name it (name_final_model).
FINAL_MODEL_ADVICE = "for the final model only"
SLICE_ASSIGNMENT = "this slice assignment"


# Pieces -----------------------------------------------------------------------------------------

def code(text: str) -> str:
    return f"`{text}`"


def via(anchor: Anchor | None) -> str:
    if anchor is None:
        return ""
    return f" inside your helper `{anchor.helper}`, which receives the test data on this line"


def origins(atoms: Sequence[Atom]) -> str:
    shown = sorted({atom.origin for atom in atoms})
    text = " and ".join(shown[:2])
    return text + (f" (and {len(shown) - 2} more)" if len(shown) > 2 else "")


def origins_of(value: Value, kind: str) -> list[str]:
    return sorted({atom.origin for atom in value.atoms_of(kind)})


def describe_data(node: ast.expr | None, value: Value, kind: str = TEST, anchor: Anchor | None = None) -> str:
    """The expression as written, and the data set it derives from. Inside a helper the
    expression is a parameter name the caller never wrote, so only the data set is named."""
    text, names = short_source(node), origins_of(value, kind)
    if anchor is not None and names:
        return ", ".join(f"`{o}`" for o in names)
    if not names or names == [text]:
        return f"`{text}`"
    return f"`{text}`, which comes from " + ", ".join(f"`{o}`" for o in names)


def evidence(node: ast.expr, cell: int, anchor: Anchor | None) -> str:
    """How a student finds the test evaluation a later verdict depends on. It is also the
    identity of the score it produced (an atom's origin), so it must stay unique per site."""
    if anchor is None:
        return f"`{short_source(node)}` (cell {cell + 1}, line {node.lineno})"
    return (f"`{short_source(node)}` in your helper `{anchor.helper}` "
            f"(called in cell {anchor.cell + 1}, line {anchor.line})")


def train_pair(train_names: Sequence[str], quoted: bool = False) -> str:
    """The training arrays to name in advice: the flat features and the labels."""
    def role(letter: str) -> list[str]:
        return [n for n in train_names if letter in n.lower().split("_")]
    features = sorted(role("x"), key=lambda n: not n.endswith("flat"))
    x = (features or list(train_names) or ["X_train"])[0]
    y = (role("y") or [n for n in train_names if n != x] or ["y_train"])[0]
    return f"`{x}`, `{y}`" if quoted else f"{x}, {y}"


def validation_advice(train_names: Sequence[str]) -> str:
    return ("score each candidate on a validation split carved from the training data with "
            f"`train_test_split({train_pair(train_names)}, ...)`, and use the test set once, {FINAL_MODEL_ADVICE}.")


def name_final_model(explanation: str, final: str) -> str:
    """Advice reads better with the student's own name for the final model, once known."""
    return explanation.replace(FINAL_MODEL_ADVICE, f"for `{final}` only")


# L1 multi-test ----------------------------------------------------------------------------------

def repeated_evaluation(receiver_node: ast.expr | None, data_node: ast.expr, data_value: Value,
                        anchor: Anchor | None, in_loop: bool, function: str | None,
                        train_names: Sequence[str]) -> str:
    receiver = short_source(receiver_node)
    if in_loop:
        where = "inside a loop (or comprehension) that builds, picks or retrains a model on every pass"
    elif anchor is not None:
        where = "and this line runs once per candidate (in a loop, comprehension or key function)"
    else:
        assert function is not None  # neither in a loop nor anchored: a helper called once per candidate
        where = (f"inside `{function}`, which is called once per candidate "
                 "(from a loop, comprehension or key function)")
    if anchor is not None:
        lead = (f"This line hands test data ({describe_data(data_node, data_value, anchor=anchor)}) "
                f"to your helper `{anchor.helper}`, which evaluates `{receiver}` on it {where}")
    else:
        lead = f"`{receiver}` is evaluated on test data ({describe_data(data_node, data_value)}) {where}"
    return f"{lead}, so several candidate models are scored on the test set. Instead, {validation_advice(train_names)}"


def distinct_models(receiver: str, final: str, final_location: tuple[int, int],
                    train_names: Sequence[str]) -> str:
    other = "a model built differently under the same name" if receiver == final else "a different model"
    return (f"`{receiver}` is evaluated on the test set here, and so is {other} "
            f"(`{final}`, cell {final_location[0] + 1} line {final_location[1]}); only "
            f"the single final model may be. Instead, {validation_advice(train_names)}")


def search_on_test(call: Call, data: str, anchor: Anchor | None) -> str:
    return (f"`{short_source(call.node.func)}` runs a hyper-parameter search on test data "
            f"({data}){via(anchor)}, scoring every candidate on it. "
            "Run the search on the training data and evaluate only its best model on the test set.")


def cross_validation_on_test(call: Call, data: str, anchor: Anchor | None) -> str:
    return (f"`{call.short}` trains and scores several models on test data "
            f"({data}){via(anchor)}. Cross-validate on the training data only, and "
            "evaluate the final model on the test set once.")


# L2 training on test ----------------------------------------------------------------------------

def validation_keyword_on_test(keyword: str, data: str, anchor: Anchor | None) -> str:
    return (f"`{keyword}=` receives test data ({data}){via(anchor)}, so the test set steers "
            "training (its score is watched every epoch, for example by early stopping). Use "
            "`validation_split=0.1`, or a validation set split off the training data with "
            "train_test_split.")


def callback_on_test(call: Call, data: str, anchor: Anchor | None) -> str:
    return (f"A callback built with test data ({data}) is passed to `.{call.method}(...)`"
            f"{via(anchor)}, so the test set steers training. Give callbacks validation data "
            "split off the training set instead.")


def trained_on_test(call: Call, data: str, anchor: Anchor | None, train_names: Sequence[str]) -> str:
    target = f".{call.method}(...)" if call.method else f"{call.short}(...)"
    text = (f"Test data ({data}) is passed to `{target}`{via(anchor)}, so the model is trained on "
            f"the test set. Train on the training data only ({train_pair(train_names, quoted=True)} or a split of "
            "them) and keep the test set for one final evaluation.")
    if call.keyword("validation_split") is not None:
        text += " Its `validation_split` then takes the validation rows from test data as well."
    return text


# L3 selection on test ---------------------------------------------------------------------------

def selection(construct: str, shown: ast.AST, scores: Sequence[Atom], anchor: Anchor | None) -> str:
    """``scores``: the test results the choice depends on, all come through ``anchor``."""
    depends_on = origins(scores)
    if anchor is None:
        lead = (f"This {construct} chooses using test-set results: `{short_source(shown)}` "
                f"depends on {depends_on}.")
    else:
        depends_on = depends_on.replace(f" in your helper `{anchor.helper}` "
                                        f"(called in cell {anchor.cell + 1}, line {anchor.line})", "")
        lead = (f"Your helper `{anchor.helper}`, called here, chooses using test-set results: its "
                f"{construct} `{short_source(shown)}` depends on {depends_on}.")
    return (f"{lead} Choosing hyperparameters or models by their test score makes that score "
            "over-optimistic; choose by validation accuracy instead, and report the test score of "
            "the final model only.")


def search_chooses_on_test(call: Call, data: str, anchor: Anchor | None) -> str:
    return (f"`{short_source(call.node)}`{via(anchor)} picks its best hyperparameters (`best_params_`, "
            f"`best_estimator_`) by their score on test data ({data}), so whatever it chooses is chosen "
            "on the test set. Search on the training data; its cross-validation does the validating.")


def tuning_returns_test_results(function: str, scores: Sequence[Atom]) -> str:
    return (f"`{function}` returns test-set results ({origins(scores)}) as the "
            "outcome of its tuning, so whatever is chosen from them is chosen on the "
            "test set. Return validation scores instead, and evaluate only the final "
            "model on the test set.")


# L4 overlap -------------------------------------------------------------------------------------

def mixing(operation: str, test_data: str, train_data: str, anchor: Anchor | None) -> str:
    """``operation``: a phrase, "`np.vstack(...)`" or "this slice assignment"."""
    return (f"{operation[0].upper()}{operation[1:]} mixes test data "
            f"({test_data}) with training data "
            f"({train_data}){via(anchor)}, so whatever "
            "trains or tunes on the result sees test rows. Keep the test set apart; if you need "
            "validation data, split it off the training set with train_test_split.")


def test_into_train(value: Value, name: str, anchor: Anchor | None) -> str:
    return (f"Test data ({', '.join(f'`{o}`' for o in origins_of(value, TEST))}) is stored in "
            f"the training variable `{name}`{via(anchor)}, so everything trained on `{name}` "
            f"afterwards learns from test rows. Keep `{name}` for training data only and give the "
            "test data its own name.")


# L5 preprocessing, and L4's oversampling before a split ------------------------------------------

def transform_fitted_on_test(call: Call, data: str, anchor: Anchor | None) -> str:
    learner = next((atom.origin for atom in call.receiver.atoms_of("transform")), "transform")
    return (f"This {learner} learns from test data ({data}){via(anchor)} in `.{call.method}(...)`, so "
            "what it learned (means, components, a vocabulary...) carries test rows into everything it "
            "feeds, training and evaluation alike. Fit it on the training data only, then "
            "`.transform(...)` the test data with it.")


def transform_fitted_before_split(fitted: str, cell: int, line: int, split: str) -> str:
    return (f"`{fitted}` learns from the whole data set (cell {cell + 1}, line {line}), which "
            f"`{split}` splits only afterwards, so the transform has seen the future test rows. Split "
            "first, fit the transform on the training part, and transform both parts with it (a "
            "`Pipeline` does this for you).")


def resampled_on_test(call: Call, data: str, anchor: Anchor | None) -> str:
    return (f"`.{call.method}(...)` oversamples data that holds test rows ({data}){via(anchor)}, so "
            "synthetic rows made from test rows end up in training. Oversample the training part "
            "only, after the split.")


def resampled_before_split(fitted: str, cell: int, line: int, split: str) -> str:
    return (f"`{fitted}` oversamples the whole data set (cell {cell + 1}, line {line}) before `{split}` "
            "splits it, so copies of the same rows (or rows blended from them) land on both sides: "
            "the test score measures memory. Split first, then oversample the training part only.")


def augmented_before_split(stacked: str, cell: int, line: int, split: str) -> str:
    return (f"`{stacked}` stacks rows made from the same rows (augmented or duplicated copies) before "
            f"`{split}` splits them (cell {cell + 1}, line {line}), so an image and its copy land on both "
            "sides: the test score measures memory. Split first, then augment the training part only.")


def statistic_of_test_rows(statistic: str, cell: int, line: int, call: Call) -> str:
    target = f".{call.method}(...)" if call.method else f"{call.short}(...)"
    return (f"`{statistic}` (cell {cell + 1}, line {line}) is computed over rows that include test data, and "
            f"the data passed to `{target}` is scaled with it, so training learns from a statistic of the "
            "test set. Compute means, standard deviations and the like on the training data only.")
