"""How clear is the winner of the hidden tuning problem, over the cases drawn per submission?

Draws N hidden tuning cases exactly as the grader does (``_tuning_problem`` with a random
submission salt), trains every candidate of each as the solutions' ``tune_mlp`` does (an 80/20
stratified split, ``MLPClassifier`` with the case's seed) at several ``max_iter``, and prints
the validation accuracy of the clear winner against the best other candidate. The grader's
``tune_mlp_picks_the_clear_winner`` is fair only while the smallest margin stays well above 0.

    .venv/bin/python benchmarks/tuning_margins.py [--cases 12] [--max-iter 20 100 200]
"""

from __future__ import annotations

import argparse
import os
import secrets
import time
import warnings

os.environ.setdefault("AUTOGRADER_DATASET", "digits")


def validation_accuracies(case: dict, max_iter: int) -> dict[tuple, float]:
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    X_fit, X_val, y_fit, y_val = train_test_split(case["X"], case["y"], test_size=0.2,
                                                  random_state=case["seed"], stratify=case["y"])
    scores = {}
    for rate in case["learning_rates"]:
        for size in case["sizes"]:
            model = MLPClassifier(hidden_layer_sizes=tuple(size), learning_rate_init=rate,
                                  max_iter=max_iter, random_state=case["seed"]).fit(X_fit, y_fit)
            scores[rate, tuple(size)] = model.score(X_val, y_val)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--max-iter", type=int, nargs="+", default=[20, 100, 200])
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # ConvergenceWarning: small budgets are the point
    from autograder.checks.nn_foundations.judges import SUITE, clear_winner
    from autograder.checks.suite import hidden_inputs, submission_salt
    check = SUITE.checks["tune_mlp_picks_the_clear_winner"]
    started, smallest = time.monotonic(), {m: 1.0 for m in args.max_iter}
    print("case  learning_rates  sizes  max_iter  winner  best_other  margin")
    for number in range(args.cases):
        salt = submission_salt(secrets.token_bytes(32), secrets.token_bytes(64))
        case = hidden_inputs(SUITE.assignment, check, salt)
        rate, size = clear_winner(case)
        for max_iter in args.max_iter:
            scores = validation_accuracies(case, max_iter)
            winner = scores.pop((rate, tuple(size)))
            other = max(scores.values())
            smallest[max_iter] = min(smallest[max_iter], winner - other)
            print(f"{number:4d}  {case['learning_rates']}  {[tuple(s) for s in case['sizes']]}  "
                  f"{max_iter:4d}  {winner:.3f}  {other:.3f}  {winner - other:+.3f}", flush=True)
    for max_iter, margin in smallest.items():
        print(f"smallest margin at max_iter {max_iter}: {margin:+.3f}")
    print(f"{args.cases} cases in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
