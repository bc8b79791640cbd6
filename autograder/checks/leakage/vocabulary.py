"""The names the analyser recognises: the course's data sets, and the library functions and
methods that train, evaluate, measure, choose, concatenate or merely describe.

A call is recognised by its name (``model.fit`` by ``fit``, ``np.vstack`` by ``vstack``), so a
spelling missing here is a blind spot, not an error: adding a name is how the analyser learns it.
"""

from __future__ import annotations

import re

TEST_NAMES: tuple[str, ...] = ("X_test", "y_test", "X_test_flat")
TRAIN_NAMES: tuple[str, ...] = ("X_train", "y_train", "X_train_flat")

EVAL_SCORE_METHODS = frozenset({"score", "evaluate", "test_on_batch"})
EVAL_PREDICT_METHODS = frozenset({"predict", "predict_proba", "predict_log_proba", "decision_function",
                                  "predict_classes", "predict_on_batch", "__call__"})
FIT_METHODS = frozenset({"fit", "partial_fit", "fit_transform", "train_on_batch", "fit_generator",
                         "fit_resample", "search"})
FIT_RETURNS_DATA = frozenset({"fit_transform", "fit_resample"})
REFIT_METHODS = FIT_METHODS | {"set_params", "compile", "build", "load_weights", "set_weights"}
VALIDATION_KEYWORDS = frozenset({"validation_data", "eval_set"})
CROSS_VALIDATION = frozenset({"cross_val_score", "cross_validate", "cross_val_predict", "learning_curve",
                              "validation_curve", "permutation_test_score"})
METRICS = frozenset({"accuracy_score", "f1_score", "precision_score", "recall_score", "log_loss",
                     "confusion_matrix", "classification_report", "balanced_accuracy_score",
                     "roc_auc_score", "top_k_accuracy_score", "zero_one_loss", "matthews_corrcoef",
                     "precision_recall_fscore_support", "sparse_categorical_accuracy",
                     "categorical_accuracy", "mean_squared_error", "mean_absolute_error"})
METRIC_SUFFIXES = ("_score", "_error", "_loss")
CONCAT_FUNCTIONS = frozenset({"concatenate", "concat", "vstack", "hstack", "dstack", "row_stack",
                              "column_stack", "stack", "append", "chain"})
CONCAT_METHODS = frozenset({"concatenate", "append", "extend", "insert"})
INDEX_MIXERS = frozenset({"r_", "c_"})
MUTATING_METHODS = frozenset({"append", "extend", "insert", "update", "add", "setdefault",
                              "appendleft", "__setitem__"})
SELECTION_FUNCTIONS = frozenset({"max", "min", "sorted", "argmax", "argmin", "argsort", "nanargmax",
                                 "nanargmin", "nlargest", "nsmallest", "amax", "amin"})
SELECTION_METHODS = frozenset({"idxmax", "idxmin", "sort_values", "nlargest", "nsmallest", "argmax",
                               "argmin", "argsort", "sort", "max", "min"})
REDUCTIONS = frozenset({"min", "max", "mean", "sum", "std", "var", "median", "amin", "amax", "nanmean",
                        "nanstd", "nanmin", "nanmax", "nansum", "ptp", "prod", "all", "any",
                        "count_nonzero", "average", "reduce_mean", "reduce_sum", "reduce_max",
                        "reduce_min"})
DESCRIBE_ATTRIBUTES = frozenset({"shape", "ndim", "dtype", "dtypes", "size", "nbytes", "itemsize",
                                 "columns"})
DESCRIBE_FUNCTIONS = frozenset({"len", "type", "isinstance", "issubclass", "print", "display", "pprint",
                                "str", "repr", "format", "id", "hash", "shape", "ndim", "unique",
                                "bincount", "callable", "hasattr"})
DESCRIBE_METHODS = frozenset({"unique", "nunique", "value_counts", "info", "describe", "memory_usage",
                              "__len__"})
REPORTING_CALLS = frozenset({"print", "display", "pprint", "warn", "log", "info", "debug", "warning"})
REPORTING_MODULES = frozenset({"plt", "logging", "warnings", "logger", "sys", "ax", "axes", "fig"})
MODEL_FACTORIES = frozenset({"make_pipeline", "clone", "load_model"})
SEARCH_CLASSES = frozenset({"RandomSearch", "Hyperband", "BayesianOptimization", "GridSearch"})
DATA_CLASSES = frozenset({"DataFrame", "Series", "Index", "Tensor", "Variable", "Dataset",
                          "TensorDataset", "DataLoader", "Counter", "OrderedDict", "Path", "Figure"})
LOADER_NAME = re.compile(r"load|read|fetch|split|get_data|dataset|download", re.IGNORECASE)
DEFAULT_MODULES = {
    "np": "numpy", "numpy": "numpy", "pd": "pandas", "pandas": "pandas", "tf": "tensorflow",
    "tensorflow": "tensorflow", "keras": "keras", "plt": "matplotlib.pyplot", "sns": "seaborn",
    "sklearn": "sklearn", "metrics": "sklearn.metrics", "math": "math", "random": "random",
    "torch": "torch", "ops": "keras.ops", "layers": "keras.layers", "heapq": "heapq",
    "itertools": "itertools", "copy": "copy", "os": "os", "scipy": "scipy",
}
