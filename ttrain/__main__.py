"""`python -m ttrain` runs the command line."""

from ttrain.cli import main

if __name__ == "__main__":
    main()
