"""``python -m gateway [--host H] [--port P]``: serve the gateway with uvicorn.

Reads its configuration from the environment (gateway/config.py); exits with a clear message
when ``FACTORY_GATEWAY_API_KEY`` is missing.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from gateway.config import GatewayConfigError, env_host, listen_address

    host, port = listen_address()
    parser = argparse.ArgumentParser(prog="python -m gateway", description=__doc__)
    parser.add_argument(
        "--host", default=env_host(), help=f"listen address (FACTORY_GATEWAY_HOST, default {host})"
    )
    parser.add_argument("--port", type=int, default=port, help=f"port (FACTORY_GATEWAY_PORT, default {port})")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)

    import uvicorn

    from gateway.app import create_app

    try:
        app = create_app()
    except GatewayConfigError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, server_header=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
