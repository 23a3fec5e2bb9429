"""Social-media analysis as a script: the same options as ``mmfuse run social-media``.

python pipelines/social_media.py sample_data/social_media -o out/social_media
python pipelines/social_media.py posts.csv -o out/posts --topics "price,support,battery"
"""

import sys

from mmfuse.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "social-media", *sys.argv[1:]]))
