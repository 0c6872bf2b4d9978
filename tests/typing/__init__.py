"""Code that exists only to be type-checked (mypy), never run: see public_api.py."""
