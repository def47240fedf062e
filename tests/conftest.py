"""Shared pytest setup."""

# Regenerating the golden fixtures needs PyTorch; the tests only read the file it wrote.
collect_ignore = ["fixtures/make_torch_fixtures.py"]
