"""Entry point of `cdktf synth` / `cdktf deploy` (see cdktf.json): config in, stacks out.

Reads the config from $PLATFORM_CONFIG or ./platform.yaml. The churn wheel is $CHURN_WHEEL when set, else built
from ml/ right now (as `platform synth` does), so the stacks never reference a wheel older than ml/.
"""

import os
import sys
from pathlib import Path

from infra.config import ConfigError, load_config
from infra.wheel import WheelBuildFailed, WheelNotFound, build_wheel, find_wheel


def main() -> None:
    try:
        config = load_config()
        explicit = os.environ.get("CHURN_WHEEL")
        wheel = find_wheel(Path(explicit), field="CHURN_WHEEL") if explicit else build_wheel()
    except (ConfigError, WheelNotFound) as exc:
        print(str(exc), file=sys.stderr)
        raise SystemExit(2) from None
    except WheelBuildFailed as exc:
        print(f"{exc}; fix ml/, or set CHURN_WHEEL to a built churn wheel", file=sys.stderr)
        raise SystemExit(2) from None
    from infra.app import build_app  # loading the provider bindings takes seconds: check the inputs first
    from infra.wheelhouse import WheelhouseUnavailable

    try:  # builds the wheel of every managed workload package besides ml/
        app = build_app(config, outdir=Path(os.environ.get("CDKTF_OUTDIR", "cdktf.out")), wheel=wheel)
    except WheelBuildFailed as exc:
        print(f"{exc}; fix the workload's package", file=sys.stderr)
        raise SystemExit(2) from None
    except WheelhouseUnavailable as exc:  # an isolated env's wheelhouse: no network and no cached wheel
        print(f"wheelhouse: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    app.synth()


if __name__ == "__main__":
    main()
