"""Scripts the multi-process tests run as OS processes of their own (harness.py launches them)."""
