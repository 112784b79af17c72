"""Entry point of `cdktf synth` / `cdktf deploy` (see cdktf.json): config in, stacks out.

Reads the config from $PLATFORM_CONFIG or ./platform.yaml and the wheel from $CHURN_WHEEL or the project's dist/.
"""

import os
import sys
from pathlib import Path

from infra.config import ConfigError, load_config
from infra.wheel import WheelNotFound, find_wheel


def main() -> None:
    try:
        config = load_config()
        explicit = os.environ.get("CHURN_WHEEL")
        wheel = find_wheel(Path(explicit) if explicit else None, field="CHURN_WHEEL")
    except (ConfigError, WheelNotFound) as exc:
        print(str(exc), file=sys.stderr)
        raise SystemExit(2) from None
    from infra.app import build_app  # loading the provider bindings takes seconds: check the inputs first

    build_app(config, outdir=Path(os.environ.get("CDKTF_OUTDIR", "cdktf.out")), wheel=wheel).synth()


if __name__ == "__main__":
    main()
