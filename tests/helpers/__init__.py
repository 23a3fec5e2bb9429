"""Test helpers: synthetic media and a toy task for the batch engine."""
