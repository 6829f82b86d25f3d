"""`python -m job.demo`: the exit code of the demo pipeline."""

import sys

from job.demo.pipeline import main

sys.exit(main())
