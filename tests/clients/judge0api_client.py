"""Drives rce's Judge0 compatibility API with PyPI `judge0api` 0.1.20,
unmodified. Usage:

    judge0api_client.py BASE_URL API_KEY

The client checks its token with `POST /authenticate?X-Auth-Token=KEY` (a
query parameter), then submits to `/submissions/?base64_encoded=true&wait=true`
and reads back from `/submissions/TOKEN/` (trailing slashes, as Rails
accepts). A wrong key must fail at the client's constructor. Prints one JSON
object with what it saw.
"""

import json
import sys

import requests
from judge0api import Client, submission


def main():
    base_url, key = sys.argv[1:3]
    client = Client(base_url, auth_token=key)
    ran = submission.submit(
        client,
        b"import sys\nprint(sys.stdin.read().strip()[::-1])\n",
        71,
        stdin=b"stressed",
        expected_output=b"desserts\n",
    )
    again = submission.get(client, ran.token)
    try:
        Client(base_url, auth_token="rce_not_a_key")
        refused = None
    except requests.HTTPError as error:
        refused = error.response.status_code
    print(json.dumps({
        "token": ran.token,
        "status": ran.status,
        "stdout": ran["stdout"],
        "again_status": again.status,
        "again_stdout": again["stdout"],
        "again_language_id": again.language_id,
        "refused": refused,
    }))


if __name__ == "__main__":
    main()
