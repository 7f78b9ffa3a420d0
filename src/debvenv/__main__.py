import sys

from debvenv.cli import main

sys.exit(main())
