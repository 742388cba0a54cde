import sys

from langadapt.cli import main

sys.exit(main())
