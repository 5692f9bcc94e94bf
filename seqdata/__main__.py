"""``python -m seqdata`` is the ``seqdata`` command."""

from seqdata.cli import main

raise SystemExit(main())
