"""Wildlife monitoring: find the animal, then name it — species, blanks, events, counts, Camtrap DP.

The task lives in ``task``; the stages in ``reading`` (pixels), ``sequence`` (times, cameras,
bursts, events), ``motion`` and ``scan`` (where to look), ``locate`` (detections), ``species``
and ``naming`` (what it is), ``events`` (events and summary), ``camtrapdp`` (the export).
"""

from mmfuse.tasks.wildlife.task import WildlifeOptions, WildlifeTask

__all__ = ["WildlifeOptions", "WildlifeTask"]
