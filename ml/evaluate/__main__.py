import sys

from ml.evaluate.cli import main

sys.exit(main())
