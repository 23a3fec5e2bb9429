"""Wildlife monitoring as a script: the same options as ``mmfuse run wildlife``.

python pipelines/wildlife_monitoring.py sample_data/wildlife/survey \
    --species sample_data/wildlife/species.txt -o out/wildlife
python pipelines/wildlife_monitoring.py /data/traps --species species.txt --examples ex/ -o out
"""

import sys

from mmfuse.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "wildlife", *sys.argv[1:]]))
