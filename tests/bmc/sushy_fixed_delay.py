"""sushy-emulator whose fake driver applies power changes after a fixed delay.

sushy-tools' fake driver lands a power change `random.randint(1, 11)` seconds after
the request (rounded to the whole second it was asked in). For comparing two fencing
clients that randomness swamps the difference, so this pins it:
FAKE_POWER_DELAY=3 python sushy_fixed_delay.py --config ... (same arguments as
sushy-emulator).
"""

import os
import random
import sys

from sushy_tools.emulator import main

delay = int(os.environ.get("FAKE_POWER_DELAY", "3"))
random.randint = lambda a, b: delay

if __name__ == "__main__":
    sys.exit(main.main())
