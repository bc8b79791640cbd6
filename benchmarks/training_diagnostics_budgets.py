"""The budgets of training_diagnostics' grader-side training runs, measured over seeds.

For each check that trains (q2 ``sigmoid_mlp_trains_to_accuracy``, q5
``fixed_deep_mlp_trains_where_broken_does_not``), the reference architecture's accuracy under
the grader's own run (the judges' ``train_and_score``, grading.toml's budget) for several seeds,
the threshold, and the accuracy of the setups the check must tell apart: q5's broken setup
(0-255 pixels, binary_crossentropy) and, for scale, variants (q2: a ReLU network, which trains better
and is caught by the layer check; q5: the fixed loss on unscaled pixels, binary_crossentropy on scaled
ones, which only the reported metric flatters). Also the CPU time of one run.

    .venv/bin/python benchmarks/training_diagnostics_budgets.py [--seeds 5] [--dataset digits]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--dataset", default="digits")
    args = parser.parse_args()
    os.environ["AUTOGRADER_DATASET"] = args.dataset

    from autograder.checks.models import dense_stack
    from autograder.checks.training_diagnostics import judges
    from autograder.config import config, config_overrides

    assignment = judges.ASSIGNMENT
    base = config(assignment)
    training = base.training
    print(f"{args.dataset}: batch size {training.batch_size}, {training.mlp_epochs} epochs, "
          f"q2 optimizer {training.optimizer!r}, q5 optimizer {judges.BROKEN_OPTIMIZER}")
    setups = {
        "q2 sigmoid MLP (reference)": (judges.sigmoid_mlp, judges.sigmoid_run(), "sigmoid_mlp_accuracy"),
        "q2 ReLU instead of sigmoid (same run: the layer check catches it, not this one)": (
            lambda: dense_stack([128, 64]), judges.sigmoid_run(), None),
        "q5 fixed deep MLP (reference)": (judges.deep_mlp, judges.fixed_run("categorical_crossentropy", "one_hot"),
                                          "deep_mlp_accuracy"),
        "q5 fixed, sparse loss on integer labels": (judges.deep_mlp,
                                                    judges.fixed_run("sparse_categorical_crossentropy", "integer"),
                                                    None),
        "q5 broken setup (0-255, binary_crossentropy)": (judges.deep_mlp, judges.BROKEN_RUN, "deep_mlp_accuracy"),
        "q5 loss fixed, pixels unscaled": (judges.deep_mlp,
                                           judges.TrainingRun("categorical_crossentropy", "one_hot", "broken", True),
                                           None),
        "q5 pixels scaled, binary_crossentropy": (judges.deep_mlp,
                                                  judges.TrainingRun("binary_crossentropy", "one_hot", "broken", False),
                                                  None),
    }
    for name, (builder, run, threshold_key) in setups.items():
        accuracies, seconds = [], []
        for seed in range(args.seeds):
            config_overrides[assignment] = base.with_values("grading", seed=seed)
            started = time.process_time()
            accuracies.append(judges.train_and_score(builder().to_json(), run))
            seconds.append(time.process_time() - started)
        config_overrides.pop(assignment, None)
        threshold = base.threshold(args.dataset, threshold_key) if threshold_key else None
        print(f"{name}: accuracy {' '.join(f'{a:.3f}' for a in accuracies)} (min {min(accuracies):.3f}, "
              f"mean {statistics.mean(accuracies):.3f})"
              + (f", threshold {threshold:g}" if threshold is not None else "")
              + f"; {statistics.mean(seconds):.1f} CPU-s a run", flush=True)


if __name__ == "__main__":
    main()
