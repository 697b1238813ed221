"""lookalike: train image metric-learning models that find look-alike images."""

__version__ = "0.1.0"
