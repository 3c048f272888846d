"""`sip-policy init [FOLDER]`: a commented starter policy, its test cases and a prompt, that
`check --strict` and `test` accept as they are. Never overwrites a file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..model import json_schema

RULES = """\
# yaml-language-server: $schema=rules.schema.json
#
# Your phone lines. Rules are tried top to bottom; the first one whose conditions all hold
# decides what the call gets. Anything a rule does not set comes from `defaults`.
#   sip-policy check            every problem in this file, with the line and the fix
#   sip-policy test             the cases in rules.tests.yaml
#   sip-policy explain --attr sip.trunkPhoneNumber=+15105550123    what a caller would get
version: 1

settings:
  # numbers that arrive without a country code are read as numbers of this country
  default_region: US

# attributes your trunk or dispatch rule sets beyond LiveKit's own (typo checks, masking)
attributes:
  customer.tier:
    description: from the X-Customer-Tier header (headers_to_attributes on the trunk)
    sensitive: false

# the tools your worker registers: any other name in this file is an error
tools:
  end_call: {description: hang up politely}
  transfer_to_human: {description: transfer the call to a person}

# what every call gets unless a rule says otherwise
defaults:
  stt: deepgram/nova-3
  llm: openai/gpt-4.1-mini
  tts: cartesia/sonic-2
  instructions: You are a helpful voice assistant. Keep answers short.
  greeting: Hi, thanks for calling. How can I help?
  tools: [end_call]

# named set-ups that rules pick with `use:`
profiles:
  support:
    instructions_file: prompts/support.md
    tools: [transfer_to_human, end_call]
  spanish:
    extends: support
    stt: "deepgram/nova-2-phonecall:es"
    greeting: Hola, gracias por llamar. ¿En qué puedo ayudarle?

rules:
  # phone numbers in quotes: unquoted, YAML reads +15105550123 as a number
  - name: spanish-line
    when:
      sip.trunkPhoneNumber: "+15105550123"
    use: spanish

  - name: gold-customers
    when:
      customer.tier: gold
    use: support
"""

TESTS = """\
# Test cases: a caller and what it must get. Run them with `sip-policy test`.
cases:
  - name: the Spanish line gets Spanish speech recognition
    attributes: {sip.trunkPhoneNumber: "+15105550123", sip.phoneNumber: "+34911234567"}
    expect:
      rule: spanish-line
      stt: "deepgram/nova-2-phonecall:es"

  - name: a gold customer gets support
    attributes: {customer.tier: gold, sip.phoneNumber: "+14155550100"}
    expect: {rule: gold-customers, tools: [transfer_to_human, end_call]}

  - name: everyone else gets the defaults
    attributes: {sip.phoneNumber: "+14155550100"}
    expect: {rule: null, tools: [end_call]}
"""

PROMPT = """\
You are the support assistant. Be brief and friendly. When the caller asks for a person,
or you cannot help, transfer the call with the `transfer_to_human` tool.
"""

FILES = {
    "rules.yaml": RULES,
    "rules.tests.yaml": TESTS,
    "prompts/support.md": PROMPT,
    "rules.schema.json": "",  # written from `sip-policy schema`: completion in editors
}


def cmd_init(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    taken = [name for name in FILES if (folder / name).exists()]
    if taken:
        print(
            f"error: {', '.join(str(folder / n) for n in taken)} already exist(s); "
            "init never overwrites a file: choose an empty folder",
            file=sys.stderr,
        )
        return 1
    for name, text in FILES.items():
        if name == "rules.schema.json":
            text = json.dumps(json_schema(), indent=2) + "\n"
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
        print(f"wrote {folder / name}")
    print("next: sip-policy check && sip-policy test  (docs/guide.md walks through the file)")
    return 0
