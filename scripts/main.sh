#!/usr/bin/env bash
# The main job, offline on the bundled digits dataset: build every assignment (the build
# grades its own solutions and fails if they are not perfect), then grade the bundled
# sample submissions of each assignment (submissions/<assignment>/) into out/<assignment>/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export TF_CPP_MIN_LOG_LEVEL=2
.venv/bin/autograder build
for master in assignments/*/*.ipynb; do
  assignment=$(basename "$(dirname "$master")")
  [ "$assignment.ipynb" = "$(basename "$master")" ] || continue
  .venv/bin/autograder grade "$assignment" "submissions/$assignment"/*.ipynb --out "out/$assignment"
done
