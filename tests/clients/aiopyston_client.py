"""Drives rce's Piston v2 compatibility API with PyPI `aiopyston` 1.2.1
(`import pyston`), unmodified. Usage:

    aiopyston_client.py BASE_URL API_KEY

BASE_URL ends in `/api/v2/`; the client adds `runtimes/` and `execute/`
(trailing slashes) and sends the key as a bare `Authorization: KEY` header
(no scheme). Prints one JSON object with what it saw.
"""

import asyncio
import gc
import json
import sys

from pyston import File, PystonClient


async def main():
    base_url, key = sys.argv[1:3]
    client = PystonClient(api_key=key, base_url=base_url)
    languages = await client.languages()
    python = await client.get_runtimes("py")
    output = await client.execute(
        "python",
        [File("import sys\nprint(input() * 2, sys.argv[1:])\n", "main.py")],
        stdin="ab",
        args=["x", "y"],
    )
    compiled = await client.execute(
        "c",
        [File('#include <stdio.h>\nint main(void){puts("from c");return 4;}\n')],
    )
    await client.close_session()
    # The client closes its session again from __del__ on the running loop.
    del client
    gc.collect()
    print(json.dumps({
        "languages": sorted(languages),
        "python_aliases": python[0].aliases,
        "stdout": output.run_stage.stdout,
        "code": output.run_stage.code,
        "compiled_stdout": compiled.run_stage.stdout,
        "compiled_code": compiled.run_stage.code,
        "compile_code": compiled.compile_stage.code if compiled.compile_stage else None,
    }))


if __name__ == "__main__":
    asyncio.run(main())
