"""pyghmi's fakebmc, bound to one address (loopback) instead of every interface.

Usage: fakebmc.py --port PORT [--address 127.0.0.1] [--power on|off]
The user is admin, the password is $FAKEBMC_PASSWORD (default "password", as fakebmc).
Power changes land at once, as in pyghmi's FakeBmc.
"""

import argparse
import os
import sys

import pyghmi.ipmi.bmc as bmc
from pyghmi.cmd.fakebmc import FakeBmc


class LoopbackFakeBmc(FakeBmc):
    def __init__(self, authdata, port, address, power):
        bmc.Bmc.__init__(self, authdata, port=port, address=address)
        self.powerstate = power
        self.bootdevice = "default"


def main():
    parser = argparse.ArgumentParser(prog="fakebmc.py")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--power", choices=["on", "off"], default="on")
    args = parser.parse_args()
    password = os.environ.get("FAKEBMC_PASSWORD", "password")
    sys.stdout.reconfigure(line_buffering=True)
    fake = LoopbackFakeBmc({"admin": password}, args.port, args.address, args.power)
    print(f"fakebmc listening on {args.address}:{args.port}", flush=True)
    fake.listen()


if __name__ == "__main__":
    sys.exit(main())
