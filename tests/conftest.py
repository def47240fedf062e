"""Shared pytest setup."""

# The fixture scripts need PyTorch to regenerate the golden files; the tests only read what they wrote.
collect_ignore_glob = ["fixtures/make_*.py"]
