"""Data files shipped with cnn_core (digits.npz: real MNIST digits, made by scripts/make_digits.py)."""
