"""``python -m factory_assets.operations.schema > docs/operations.schema.json``: the JSON Schema of
an operation drop, generated from the Pydantic models (a test checks the published file is current)."""

import json
import sys

from factory_assets.operations.records import drop_json_schema


def main() -> int:
    sys.stdout.write(json.dumps(drop_json_schema(), indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
