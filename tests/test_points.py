"""The points each hidden check is worth, pinned here as the course announces them (README's
tables), not derived from the code under test: a change of points, a check dropped or
renamed, must be a deliberate edit of this file too."""

from __future__ import annotations

import pytest

from autograder.assignment import check_points, questions

PINNED = {
    "nn_foundations": {
        "unrolled_length_counts_every_value": ("q1_vectorize", 1), "unroll_grayscale_batches": ("q1_vectorize", 2),
        "unroll_colour_batches": ("q1_vectorize", 1), "unroll_single_image": ("q1_vectorize", 1),
        "hyperparameters_are_chosen_settings": ("q2_hyperparameters", 1),
        "parameters_are_learned_values": ("q2_hyperparameters", 1),
        "hand_trace_hidden_weighted_sums": ("q3_trace", 1), "hand_trace_hidden_activations": ("q3_trace", 1),
        "hand_trace_output": ("q3_trace", 1), "forward_single_layer_each_activation": ("q3_trace", 2),
        "forward_matches_keras_on_random_networks": ("q3_trace", 2), "forward_accepts_a_single_example": ("q3_trace", 1),
        "mlp_param_count_matches_fitted_models": ("q4_mlp", 2), "mlp_16x16_architecture": ("q4_mlp", 2),
        "mlp_16x16_reaches_accuracy": ("q4_mlp", 2),
        "test_set_not_used_for_tuning": ("q5_tuning", 0), "tune_mlp_does_not_read_the_test_set": ("q5_tuning", 0),
        "the_notebook_ran_no_test_leak": ("q5_tuning", 0),
        "tune_mlp_returns_a_choice": ("q5_tuning", 2), "tune_mlp_picks_the_clear_winner": ("q5_tuning", 3),
        "final_mlp_refit_on_all_training_data": ("q5_tuning", 1),
        "final_mlp_uses_the_chosen_settings": ("q5_tuning", 1), "test_accuracy_is_final_models_score": ("q5_tuning", 1),
    },
    "keras_networks": {
        "mlp_16x16_architecture": ("q1_keras_mlp", 3), "mlp_16x16_trains_to_accuracy": ("q1_keras_mlp", 2),
        "dense_params_match_keras": ("q2_param_counts", 2), "conv2d_params_match_keras": ("q2_param_counts", 3),
        "portfolio_cnn_total": ("q2_param_counts", 2), "wide_mlp_total": ("q2_param_counts", 1),
        "deep_mlp_total": ("q2_param_counts", 1),
        "cnn_architecture": ("q3_cnn", 3), "cnn_trains_to_accuracy": ("q3_cnn", 2),
        "invert_random_batches": ("q4_augment", 2), "augment_with_inverted_random_batches": ("q4_augment", 2),
        "layer_activations_match_reference": ("q5_activations", 3),
        "q1_keeps_the_test_set_apart": ("q1_keras_mlp", 0), "q2_keeps_the_test_set_apart": ("q2_param_counts", 0),
        "q3_keeps_the_test_set_apart": ("q3_cnn", 0), "q4_keeps_the_test_set_apart": ("q4_augment", 0),
        "q5_keeps_the_test_set_apart": ("q5_activations", 0),
    },
    "training_diagnostics": {
        "one_hot_matches_to_categorical": ("q1_outputs", 2), "predicted_classes_match_argmax": ("q1_outputs", 1),
        "top_k_ranks_by_probability": ("q1_outputs", 2), "top_k_breaks_ties_to_the_lower_class": ("q1_outputs", 1),
        "sigmoid_mlp_architecture": ("q2_sigmoid_mlp", 3), "sigmoid_mlp_optimizer": ("q2_sigmoid_mlp", 1),
        "sigmoid_mlp_loss_and_metric": ("q2_sigmoid_mlp", 1), "sigmoid_mlp_trains_to_accuracy": ("q2_sigmoid_mlp", 2),
        "best_epoch_random_histories": ("q3_history", 1), "generalization_gap_random_histories": ("q3_history", 1),
        "is_overfitting_random_histories": ("q3_history", 2), "plot_history_axes_and_labels": ("q3_history", 1),
        "plot_history_data": ("q3_history", 1),
        "confusion_matches_sklearn": ("q4_confusion", 2), "per_class_recall_matches_sklearn": ("q4_confusion", 2),
        "most_confused_with_ties": ("q4_confusion", 2),
        "scale_pixels_random_batches": ("q5_bug_hunt", 2), "scale_pixels_leaves_input_unchanged": ("q5_bug_hunt", 1),
        "fixed_deep_mlp_architecture": ("q5_bug_hunt", 2), "fixed_loss_matches_labels": ("q5_bug_hunt", 2),
        "fixed_deep_mlp_trains_where_broken_does_not": ("q5_bug_hunt", 2), "bugs_exact_set": ("q5_bug_hunt", 2),
        "first_layer_images_random_mlps": ("q6_weights", 2), "conv_kernels_random_cnns": ("q6_weights", 2),
        "conv_kernels_find_the_first_conv2d": ("q6_weights", 1),
        "fashion_classes_in_label_order": ("q7_fashion", 1), "label_names_random_labels": ("q7_fashion", 2),
        "q1_keeps_the_test_set_apart": ("q1_outputs", 0), "q2_keeps_the_test_set_apart": ("q2_sigmoid_mlp", 0),
        "q3_keeps_the_test_set_apart": ("q3_history", 0), "q4_keeps_the_test_set_apart": ("q4_confusion", 0),
        "q5_keeps_the_test_set_apart": ("q5_bug_hunt", 0), "q6_keeps_the_test_set_apart": ("q6_weights", 0),
        "q7_keeps_the_test_set_apart": ("q7_fashion", 0),
    },
}
AUTOGRADED_TOTAL = {"nn_foundations": 29, "keras_networks": 26, "training_diagnostics": 44}  # the README's headings of the assignments
MANUAL = {"nn_foundations": {"q6_reflection": 3}, "keras_networks": {"q6_reflection": 3},
          "training_diagnostics": {"q8_reflection": 3}}


@pytest.mark.parametrize("assignment", sorted(PINNED))
def test_the_master_notebook_gives_each_check_its_announced_points(assignment):
    assert check_points(assignment) == {name: (q, float(p)) for name, (q, p) in PINNED[assignment].items()}
    assert sum(points for _, points in PINNED[assignment].values()) == AUTOGRADED_TOTAL[assignment]


@pytest.mark.parametrize("assignment", sorted(PINNED))
def test_manual_questions_and_totals_are_as_announced(assignment):
    manual = {q.name: q.points for q in questions(assignment) if q.manual}
    autograded = sum(q.points for q in questions(assignment) if not q.manual)
    assert (manual, autograded) == (MANUAL[assignment], AUTOGRADED_TOTAL[assignment])


@pytest.mark.parametrize("assignment", sorted(PINNED))
def test_the_autograder_zip_grades_exactly_the_pinned_checks(assignment, builds):
    from autograder.bundle import Bundle
    from autograder.checks.suite import load_suite
    cases = Bundle.read(builds(assignment).autograder_zip).hidden_checks()
    assert {name: (question, points) for question, name, points in cases} == {
        name: (q, float(p)) for name, (q, p) in PINNED[assignment].items()}
    assert set(PINNED[assignment]) <= set(load_suite(assignment).checks)
