"""`python -m job`: the container's entry point."""

import sys

from job.cli import main

if __name__ == "__main__":
    sys.exit(main())
