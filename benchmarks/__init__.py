"""Side-by-side benchmarks of ttrain against PyTorch (and a hand-written NumPy floor) on this machine.

    python -m benchmarks [--workloads seed,mlp,...] [--repeats N] [--threads 1,2] [--output benchmarks/results.md]

`benchmarks.runner` drives the run; each framework trains in its own long-lived worker process
(`benchmarks.worker`) whose thread count is fixed by environment variables before anything is
imported, and the runner alternates the workers repeat by repeat. `conv_kernels.py` and
`optim_step.py` are separate micro-benchmarks of single kernels.
"""
