"""Interview-plus-CV screening as a script: the same options as ``mmfuse run screening``.

The tool assists a human decision and never decides alone.

python pipelines/interview_screening.py sample_data/screening/candidates \
    --job sample_data/screening/job.txt -o out/screening
python pipelines/interview_screening.py cvs.csv --job-text "Requirements: ..." -o out/cvs
"""

import sys

from mmfuse.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "screening", *sys.argv[1:]]))
