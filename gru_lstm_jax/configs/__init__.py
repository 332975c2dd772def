"""Experiment configs (ml_collections), one module per experiment, each with ``get_config()``."""
