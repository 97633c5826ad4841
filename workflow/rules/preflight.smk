# Runs before the config is read: a config file that is not YAML, or not a
# mapping, is refused with its name and the place of the error. (A file given
# with --configfile is read by Snakemake before this runs; its syntax errors get
# Snakemake's own message.)
import sys
from pathlib import Path

sys.path.append(str(Path(workflow.basedir) / "workflow" / "scripts"))

from sweeplib.plan.config import ConfigError, check_config_file

try:
    for path in ["config/config.yaml", *workflow.overwrite_configfiles]:
        check_config_file(path)
except ConfigError as error:
    sys.exit(f"Error: {error}")
