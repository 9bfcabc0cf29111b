"""Rebuild `slack_methods.json` from Slack's published OpenAPI description of the Web API.

    python -m bot.sandbox.extract_slack_methods [SPEC.json] [OUT.json]

Defaults: `../shared/slack-specs/slack_web_openapi_v2_without_examples.json` (relative to
the repository root) and `bot/sandbox/slack_methods.json`. The fake Slack reads only the
committed JSON, so an installed Heard can run `heard demo` without the spec.

For every method the JSON keeps the HTTP verb the spec documents, the required arguments
(`token` excluded: the fake reads it from the Authorization header) and the optional ones.
Slack's spec is from 2021, so a few newer methods that slack_sdk's `WebClient` has and
Heard may call are added by hand from `NEWER_METHODS`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPEC = (
    REPO_ROOT.parent / "shared" / "slack-specs" / "slack_web_openapi_v2_without_examples.json"
)
DEFAULT_OUT = Path(__file__).with_name("slack_methods.json")

SPEC_SOURCE = "slack-api-specs"
SDK_SOURCE = "slack_sdk"

# Methods newer than the 2021 spec, described from slack_sdk's WebClient (3.48) and Slack's
# method docs. Only those Heard is likely to call; anything else is `unknown_method`.
NEWER_METHODS: dict[str, dict[str, Any]] = {
    "files.getUploadURLExternal": {
        "http_method": "POST",
        "required": ["filename", "length"],
        "optional": ["alt_txt", "snippet_type"],
    },
    "files.completeUploadExternal": {
        "http_method": "POST",
        "required": ["files"],
        "optional": ["blocks", "channel_id", "channels", "initial_comment", "thread_ts"],
    },
    "oauth.v2.exchange": {
        "http_method": "POST",
        "required": ["client_id", "client_secret", "token"],
        "optional": [],
    },
    "apps.connections.open": {"http_method": "POST", "required": [], "optional": []},
    "auth.teams.list": {
        "http_method": "GET",
        "required": [],
        "optional": ["cursor", "include_icon", "limit"],
    },
}

LICENSE_NOTICE = [
    "Method names and arguments below are derived from Slack's slack-api-specs",
    "(https://github.com/slackapi/slack-api-specs, commit bc08db4, 2021-09-07,",
    "web-api/slack_web_openapi_v2_without_examples.json), used under the MIT License:",
    "",
    "Copyright (c) 2017 SlackAPI",
    "",
    "Permission is hereby granted, free of charge, to any person obtaining a copy of this",
    'software and associated documentation files (the "Software"), to deal in the Software',
    "without restriction, including without limitation the rights to use, copy, modify,",
    "merge, publish, distribute, sublicense, and/or sell copies of the Software, and to",
    "permit persons to whom the Software is furnished to do so, subject to the following",
    "conditions:",
    "",
    "The above copyright notice and this permission notice shall be included in all copies",
    "or substantial portions of the Software.",
    "",
    'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,',
    "INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A",
    "PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT",
    "HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF",
    "CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE",
    "OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.",
]


def methods_from_spec(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every method of the OpenAPI document: verb, required and optional argument names."""
    methods: dict[str, dict[str, Any]] = {}
    for path, operations in spec["paths"].items():
        name = path.lstrip("/")
        for verb, operation in operations.items():
            required: set[str] = set()
            optional: set[str] = set()
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "token":
                    continue
                (required if parameter.get("required") else optional).add(parameter["name"])
            methods[name] = {
                "http_method": verb.upper(),
                "required": sorted(required),
                "optional": sorted(optional - required),
                "source": SPEC_SOURCE,
            }
    return methods


def build(spec: dict[str, Any]) -> dict[str, Any]:
    """The whole JSON document the fake loads."""
    methods = methods_from_spec(spec)
    for name, description in NEWER_METHODS.items():
        if name in methods:
            raise ValueError(f"{name} is in the spec now; drop it from NEWER_METHODS")
        methods[name] = {**description, "source": SDK_SOURCE}
    return {
        "_license": LICENSE_NOTICE,
        "_generated_by": "python -m bot.sandbox.extract_slack_methods",
        "methods": dict(sorted(methods.items())),
    }


def main(argv: list[str]) -> int:
    spec_path = Path(argv[0]) if argv else DEFAULT_SPEC
    out_path = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    document = build(json.loads(spec_path.read_text(encoding="utf-8")))
    out_path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(document['methods'])} methods to {out_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
