"""Private Numba kernels. Each module here imports numba, so callers import them lazily on first use."""
