#!/usr/bin/env python3
"""The hostile-input suite: every class of crafted input against the built
vnetsim command.

    hostile.py VNETSIM GROUP

GROUP is one of
  pcap     classic pcap files: headers, magics, records, times, link types, frames
  pcapng   pcapng files: blocks, sections, interfaces, options, records
  files    devices, a FIFO, a directory, symlinks, permissions, stdin, a sparse file
  cli      malformed and out-of-range numbers, addresses, conflicting options
  outputs  clashing, missing, full and standard-output outputs
Each prints one line per check (ok, FAIL with the reason, or skip with the
reason) and exits 1 when any check failed. The inputs are made at run time
in a temporary directory (tests/hostile/capgen.py)."""

import os
import sys

# the source tree stays as checked out
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import main  # noqa: E402
from cases_pcap import pcap_group, pcapng_group  # noqa: E402
from cases_files import files_group  # noqa: E402
from cases_cli import cli_group, outputs_group  # noqa: E402

if __name__ == "__main__":
    main({"pcap": pcap_group, "pcapng": pcapng_group, "files": files_group, "cli": cli_group,
          "outputs": outputs_group})
