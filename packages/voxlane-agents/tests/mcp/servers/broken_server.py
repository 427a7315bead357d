"""A hand-written stdio MCP server that misbehaves on purpose (for failure tests).

``python broken_server.py MODE`` with MODE:
- ``malformed``: tools/call answers a result whose ``content`` is not a list;
- ``exit-at-start``: prints to stderr and exits before the handshake;
- ``silent``: never answers anything (a hung server).
"""

from __future__ import annotations

import json
import sys
import time

MODE = sys.argv[1] if len(sys.argv) > 1 else "malformed"


def send(message: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> None:
    if MODE == "exit-at-start":
        sys.stderr.write("broken_server: missing configuration, exiting\n")
        raise SystemExit(2)
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        if "id" not in msg:
            continue  # a notification
        if MODE == "silent":
            time.sleep(3600)
        method = msg.get("method")
        if method == "initialize":
            result: dict[str, object] = {
                "protocolVersion": msg["params"]["protocolVersion"],
                "capabilities": {"tools": {"listChanged": False}},
                "serverInfo": {"name": "broken", "version": "0"},
            }
        elif method == "tools/list":
            result = {
                "tools": [
                    {
                        "name": "weird",
                        "description": "Returns a malformed result.",
                        "inputSchema": {"type": "object", "properties": {}},
                    }
                ]
            }
        elif method == "tools/call":
            result = {"content": "this should have been a list", "isError": "maybe"}
        else:
            send({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32601, "message": "no"}})
            continue
        send({"jsonrpc": "2.0", "id": msg["id"], "result": result})


if __name__ == "__main__":
    main()
