"""The run report: one self-contained HTML page (``page``), its tables (``table``), charts
(``charts``), thumbnails (``thumbnails``) and the parts every run shows (``run``); each task
adds its own sections through ``Task.report_sections``."""
