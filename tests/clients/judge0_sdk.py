"""Drives rce's Judge0 compatibility API with the official Judge0 Python SDK
(PyPI `judge0` 0.0.8), unmodified. Usage:

    judge0_sdk.py BASE_URL API_KEY SCENARIO

Prints one JSON object with what the SDK saw; tests/compat_judge0.rs
asserts on it. Nothing here knows rce: it is what a Judge0 user would write.
"""

import json
import sys

import judge0


def seen(submission):
    return {
        "status": submission.status.value if submission.status else None,
        "status_name": str(submission.status) if submission.status else None,
        "stdout": submission.stdout,
        "stderr": submission.stderr,
        "compile_output": submission.compile_output,
        "message": submission.message,
        "time": submission.time,
        "memory": submission.memory,
        "token": str(submission.token) if submission.token else None,
        "exit_code": submission.exit_code,
        "created_at": submission.created_at.isoformat() if submission.created_at else None,
    }


def main():
    base_url, key, scenario = sys.argv[1:4]
    client = judge0.Client(base_url, headers={"X-Auth-Token": key})
    out = {"version": client.version, "languages": len(client.languages)}
    if scenario == "stdin":
        # The language alias resolves through /about's version.
        result = judge0.run(
            client=client,
            source_code="name = input()\nprint(f'hello, {name}')",
            stdin="judge0",
            language=judge0.PYTHON,
        )
        out["result"] = seen(result)
    elif scenario == "numeric_id":
        result = judge0.run(client=client, source_code="print(6 * 7)", language=71)
        out["result"] = seen(result)
    elif scenario == "compile_error":
        result = judge0.run(
            client=client,
            source_code="int main( { return 0; }",
            language=judge0.C,
        )
        out["result"] = seen(result)
    elif scenario == "compiler_options":
        # Passed as compiler arguments, never through a shell: the macro
        # arrives with its quotes. Shell syntax is only more words, which
        # the server's flag allow-list refuses before anything runs.
        source = '#include <stdio.h>\nint main(void) { puts(GREETING); return 0; }\n'
        defined = judge0.run(
            client=client,
            source_code=source,
            language=judge0.C,
            compiler_options='-O0 -DGREETING=\'"hello, options"\'',
        )
        out["defined"] = seen(defined)
        try:
            injected = judge0.run(
                client=client,
                source_code=source,
                language=judge0.C,
                compiler_options='-DGREETING=\'"x"\' ; touch /tmp/pwned',
            )
            out["injected"] = seen(injected)
        except Exception as error:  # the SDK raises requests' HTTPError on a 4xx
            response = getattr(error, "response", None)
            out["injected"] = {
                "refused": response.status_code if response is not None else None,
                "body": response.text if response is not None else str(error),
            }
    elif scenario == "time_limit":
        result = judge0.run(
            client=client,
            source_code="while True:\n    pass\n",
            language=judge0.PYTHON,
            cpu_time_limit=1,
        )
        out["result"] = seen(result)
    elif scenario == "judged":
        code = "print(int(input()) * 2)"
        accepted = judge0.run(
            client=client,
            source_code=code,
            test_cases=judge0.TestCase(input="21", expected_output="42"),
            language=judge0.PYTHON,
        )
        wrong = judge0.run(
            client=client,
            source_code=code,
            test_cases=judge0.TestCase(input="21", expected_output="41"),
            language=judge0.PYTHON,
        )
        out["accepted"] = seen(accepted)
        out["wrong"] = seen(wrong)
    elif scenario == "batch":
        # Several test cases go through /submissions/batch.
        results = judge0.run(
            client=client,
            source_code="n = int(input())\nprint(n * n)",
            test_cases=[("2", "4"), ("3", "9"), ("4", "15")],
            language=judge0.PYTHON,
        )
        out["results"] = [seen(r) for r in results]
    else:
        raise SystemExit(f"unknown scenario {scenario}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
