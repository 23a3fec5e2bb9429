"""Social media: sentiment that survives sarcasm, emotion, topics, cross-modal mismatch.

The task lives in ``task``; its scores in ``scoring``, the per-topic / per-brand summary in
``summary``, its report section in ``report``. Its recipe: ``featurize`` (decoded posts to the
model's tokens, through ``features``, ``stack``, ``bow`` and ``tune``), ``fit`` (zero-, few- and
many-shot models from labelled items) and ``examples`` (few-shot from a folder of examples).
"""

from mmfuse.tasks.social_media.task import SocialMediaTask, SocialOptions

__all__ = ["SocialMediaTask", "SocialOptions"]
