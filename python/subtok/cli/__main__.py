import sys

from subtok.cli import main

sys.exit(main())
