import sys

from codegen_ttc.cli import main

sys.exit(main())
