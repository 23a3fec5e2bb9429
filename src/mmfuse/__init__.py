"""mmfuse: folders of media into analysed tables."""

__version__ = "0.1.0"
