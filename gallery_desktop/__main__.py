"""Allow ``python -m gallery_desktop``."""

from gallery_desktop.app import main

raise SystemExit(main())
