"""Entry points (CLI, GUI), paths and settings."""
