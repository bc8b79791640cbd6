"""What crosses the boundary between the grader and a grading child: the settings the child
receives through its environment, and the error it reports that the grader acts on."""

# Each numeric library sizes its thread pool to the whole machine. With several submissions
# graded at once, every kernel would start that many spinning threads and they would all
# slow each other down, so each child gets its share of the cores instead.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMEXPR_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")

CELL_TIMEOUT_ENV_VAR = "AUTOGRADER_CELL_TIMEOUT"  # seconds per notebook cell (Otter's runner)

# A kernel that dies before answering kernel_info never ran student code (two kernels started
# at once can race for the same TCP ports): the child marks its outcome ``retryable`` (set by the
# grader where the start failed, never read from this text, which a notebook could print) and the
# grader grades again.
KERNEL_START_FAILURE = "Kernel died before replying to kernel_info"
