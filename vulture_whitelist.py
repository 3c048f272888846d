"""Names vulture cannot see used (`make lint` runs vulture with this file): methods found
by name, pydantic's configuration, livekit's entry points and the public API."""

# ruff: noqa: B018  (a vulture whitelist is made of bare expressions)
import argparse

import re2
import ruamel.yaml

from agent_entry import entrypoint
from policy.compile.expr import _Planner
from policy.livekit import PolicyCall
from policy.model import RulesFile, Schedule
from policy.runtime.engine import Policy
from policy.shared import inherited
from policy.tools import ToolRegistry
from policy.watch import PolicyHolder

_Planner._BoolOp  # dispatched by node type name in _Planner.plan
_Planner._UnaryOp
_Planner._Compare
_Planner._Constant
_Planner._Name
_Planner._Subscript
_Planner._Call
_Planner._Set
RulesFile.model_config  # pydantic
Schedule.timezone  # read by pydantic's validation, compiled by policy.compile.schedules
Schedule.holidays
Schedule.exceptions
entrypoint  # registered with @server.rtc_session()
PolicyCall.settled  # public API
ToolRegistry.require
PolicyHolder.watch
PolicyHolder.reloads
argparse.ArgumentParser().add_subparsers().required  # read by argparse
re2.Options().log_errors  # read by re2

# the playground's server: read by http.server and socketserver by name
from policy.playground.server import Handler, PlaygroundServer  # noqa: E402

PlaygroundServer.daemon_threads
PlaygroundServer.block_on_close
PlaygroundServer.address_family
PlaygroundServer.handle_error
Handler.server_version
Handler.sys_version
Handler.protocol_version
Handler.log_message
Handler.do_GET
Handler.do_POST
Handler.close_connection
PolicyCall.redecisions  # public counters (tests, metrics)
PolicyCall.model_swaps
PolicyHolder.failure  # public API
ruamel.yaml.YAML().preserve_quotes  # read by ruamel.yaml (sip-policy fmt keeps quotes)
Policy.rule_names  # public API (docs/reference.md)
inherited  # public API of policy.shared (job processes, benchmarks/pss.py)
