import sys

from voxtune.app.cli import main

sys.exit(main())
