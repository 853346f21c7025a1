"""Schemathesis hooks for the API fuzz (loaded through SCHEMATHESIS_HOOKS).

The fuzzer's own bearer token must survive the run: stateful testing follows
`GET /tokens` → `DELETE /tokens/{id}` and would revoke it, leaving every later
operation at 401. Deleting that one id is sent to an id that does not exist
instead; every other token id is fuzzed as generated.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

OWN_TOKEN_ID = int(os.environ.get("FUZZ_TOKEN_ID", "0"))


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    parameters = case.path_parameters or {}
    if str(parameters.get("token_id")) == str(OWN_TOKEN_ID) and case.method.upper() == "DELETE":
        parameters["token_id"] = OWN_TOKEN_ID + 1
