"""Data-parallel training over MPI: `mpiexec -n N ttrain fit config.yaml` (or `srun` under SLURM).

Every rank builds the same experiment from the same seed, reads its share of each global batch
(`sharding`), averages gradients with bucketed in-place allreduce (`gradients`), reduces metric
sums and counts (`reduction`), and only rank 0 prints and writes the run directory (`data_parallel`).
A rank that fails takes the job down with `MPI_Abort` after saying why (`faults`).

Nothing here is imported unless the process was started by an MPI launcher with more than one
rank (`launch.launched_world_size` reads only environment variables), so a plain `ttrain fit`
pays no import cost and runs exactly as it always has. mpi4py is imported on first use only.
"""
