# Runs before the config file is read: a file that is not YAML, or not a
# mapping, is refused with its name and the place of the error.
import sys
from pathlib import Path

sys.path.append(str(Path(workflow.basedir) / "workflow" / "scripts"))

from sweeplib.config import ConfigError, check_config_file

try:
    check_config_file("config/config.yaml")
except ConfigError as error:
    sys.exit(f"Error: {error}")

from sweeplib.locks import clear_stale_locks

if clear_stale_locks():
    print(
        "Removed a stale lock left by a run that was killed; no other Snakemake runs here.",
        file=sys.stderr,
    )
