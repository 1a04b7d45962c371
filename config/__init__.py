"""Configuration: settings.py reads pipeline.toml and the taxonomy path it names, and hands typed settings down."""
