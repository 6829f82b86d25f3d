import sys

from lambda_submitter.cli import main

if __name__ == "__main__":
    sys.exit(main())
