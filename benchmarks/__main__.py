"""`python -m benchmarks`: run the side-by-side benchmarks and write benchmarks/results.md."""

from benchmarks.runner import main

if __name__ == "__main__":
    main()
