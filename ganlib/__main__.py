"""`python -m ganlib ...`: see ganlib/cli.py."""
from .cli import main

raise SystemExit(main())
