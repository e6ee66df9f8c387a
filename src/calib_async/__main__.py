"""``python -m calib_async`` is ``calibrate_noise``."""

import sys

from calib_async.cli.main import main

sys.exit(main())
