"""Drives rce's Piston v2 compatibility API with PyPI `pistonapi` 1.0.1,
unmodified. Usage:

    pistonapi_client.py ENDPOINT

ENDPOINT is the `/api/v2` base; it may carry the API key as
`http://key:KEY@host:port/api/v2` (requests sends it as Basic auth; the
client has no header option). Prints one JSON object with what it saw.
"""

import json
import sys

from pistonapi import PistonAPI
from pistonapi.exceptions import PistonError


def main():
    api = PistonAPI(endpoint=sys.argv[1])
    runtimes = api.runtimes
    version = runtimes["python"]["version"]
    output = api.execute(
        language="python",
        version=version,
        code="import sys\nprint(input().upper())\nprint(sys.argv[1:])",
        stdin="shout",
        args=["one", "two"],
    )
    try:
        api.execute(language="brainfuck", version="*", code="x")
        unknown = None
    except PistonError as error:
        unknown = str(error)
    print(json.dumps({
        "languages": sorted(runtimes),
        "python": runtimes["python"],
        "output": output,
        "unknown": unknown,
    }))


if __name__ == "__main__":
    main()
