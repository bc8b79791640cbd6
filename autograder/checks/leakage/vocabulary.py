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
                         "fit_resample", "search", "adapt", "fit_on_texts"})
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
# reductions that standardising learns (a maximum or a count describes the data instead)
LEARNED_STATISTICS = frozenset({"mean", "std", "var", "median", "nanmean", "nanstd", "nanvar", "nanmedian",
                                "average", "reduce_mean", "reduce_std", "reduce_variance"})
DESCRIBE_ATTRIBUTES = frozenset({"shape", "ndim", "dtype", "dtypes", "size", "nbytes", "itemsize",
                                 "columns"})
DESCRIBE_FUNCTIONS = frozenset({"len", "type", "isinstance", "issubclass", "print", "display", "pprint",
                                "str", "repr", "format", "id", "hash", "shape", "ndim", "unique",
                                "bincount", "callable", "hasattr"})
DESCRIBE_METHODS = frozenset({"unique", "nunique", "value_counts", "info", "describe", "memory_usage",
                              "__len__"})
REPORTING_CALLS = frozenset({"print", "display", "pprint", "warn", "log", "info", "debug", "warning"})
REPORTING_MODULES = frozenset({"plt", "logging", "warnings", "logger", "sys", "ax", "axes", "fig"})
# transforms learned from data (SPEC §5 L5): scikit-learn's, Keras' preprocessing layers
# (learned by ``adapt``), category_encoders'; stateless ones (FunctionTransformer) are not here
TRANSFORMERS = frozenset({
    "StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler", "Normalizer", "QuantileTransformer",
    "PowerTransformer", "KBinsDiscretizer", "Binarizer", "PCA", "IncrementalPCA", "KernelPCA", "TruncatedSVD",
    "FastICA", "NMF", "FactorAnalysis", "LatentDirichletAllocation", "SimpleImputer", "KNNImputer",
    "IterativeImputer", "MissingIndicator", "OneHotEncoder", "OrdinalEncoder", "LabelEncoder", "LabelBinarizer",
    "MultiLabelBinarizer", "TargetEncoder", "TfidfVectorizer", "CountVectorizer", "TfidfTransformer",
    "DictVectorizer", "SelectKBest", "SelectPercentile", "SelectFromModel", "VarianceThreshold", "RFE", "RFECV",
    "SequentialFeatureSelector", "GenericUnivariateSelect", "Normalization", "TextVectorization", "StringLookup",
    "IntegerLookup", "Discretization", "CategoryEncoding", "Tokenizer", "ImageDataGenerator",
})
# oversamplers (imbalanced-learn): applied before the split they copy or blend rows that end up
# on both sides (SPEC §5 L4)
RESAMPLERS = frozenset({"SMOTE", "ADASYN", "BorderlineSMOTE", "SVMSMOTE", "KMeansSMOTE", "SMOTENC", "SMOTEN",
                        "RandomOverSampler", "SMOTETomek", "SMOTEENN"})
SPLIT_FUNCTIONS = frozenset({"train_test_split"})
# concatenations that stack rows (hstack and column_stack put columns side by side)
ROW_CONCATENATIONS = frozenset({"concatenate", "concat", "vstack", "row_stack", "stack", "append", "r_"})
# indexers that select rows of a DataFrame by label or position: the frame's structure is kept
ROW_INDEXERS = frozenset({"loc", "iloc", "at", "iat", "xs"})
SPLIT_KEYS = frozenset({"test", "testing", "train", "training"})
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


# Names that say which data set a variable holds, in any notebook (``x_test``, ``test_images``,
# ``df_test``, ``testX``...), unless another word says it is a figure about that data set
# (``test_accuracy``, ``n_test``, ``test_size``).
_TEST_WORDS = frozenset({"test", "xtest", "ytest", "testx", "testy", "testset", "testdata", "holdout", "tst"})
_TRAIN_WORDS = frozenset({"train", "xtrain", "ytrain", "trainx", "trainy", "trainset", "traindata", "training"})
_VALIDATION_WORDS = frozenset({"val", "valid", "validation", "dev", "xval", "yval", "xvalid", "yvalid"})
_NOT_DATA_WORDS = frozenset({
    "acc", "accuracy", "accuracies", "loss", "losses", "score", "scores", "size", "sizes", "ratio", "frac",
    "fraction", "pct", "percent", "pred", "preds", "prediction", "predictions", "proba", "probs", "prob",
    "probas", "result", "results", "err", "error", "errors", "mse", "mae", "rmse", "f1", "auc", "report",
    "cm", "matrix", "n", "num", "count", "counts", "len", "length", "path", "paths", "file", "files", "dir",
    "url", "metric", "metrics", "steps", "step", "batch", "time", "times", "history", "hist", "name", "names",
    "mode", "split", "perf", "performance", "eval", "evaluation", "fn",
    "func", "transform", "transformer", "model", "models", "logits", "top", "recall", "precision", "shape",
    "dim", "dims", "epochs", "curve", "curves", "plot", "fig", "ax", "summary", "stats", "set_size",
})


def name_words(name: str) -> list[str]:
    """``X_test_flat`` -> ["x", "test", "flat"]; ``testImages`` -> ["test", "images"]."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return [word for word in spaced.lower().split("_") if word]


def dataset_role(name: str) -> str | None:
    """"test" or "train" when the name says the variable holds that data set, else None."""
    words = set(name_words(name))
    if words & _NOT_DATA_WORDS or words & _VALIDATION_WORDS:
        return None
    if words & _TEST_WORDS:
        return "test"
    return "train" if words & _TRAIN_WORDS else None


def is_validation_name(name: str) -> bool:
    """``X_val``, ``valid_df``, ``x_dev``: a part held out for tuning, not the test set."""
    return bool(set(name_words(name)) & _VALIDATION_WORDS)
