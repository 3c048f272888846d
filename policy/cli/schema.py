"""`sip-policy schema`: the JSON Schema of the rules file, for editors."""

from __future__ import annotations

import argparse
import json
import sys

from ..model import json_schema


def cmd_schema(args: argparse.Namespace) -> int:
    json.dump(json_schema(), sys.stdout, indent=2)
    print()
    return 0
