# rce's preloaded launcher for Python (images/preload/README.md). rce-runner
# starts `python3 -u /opt/rce/preload/python.py MODULE…` in a warm container
# before any job: the interpreter starts and imports MODULE… (numpy, pandas:
# the slow part of a scientific program, ~0.5 s), then blocks reading the go
# signal on descriptor 3 (a big-endian u32 length, then the job's argv, each
# argument NUL-terminated: "python3", "-u", "main.py", args…). The program then runs as
# `python3 -u main.py args…` would run it: as __main__, with sys.argv,
# sys.path[0] and __file__ set, and an uncaught exception reported by
# sys.excepthook without this launcher's frame (exit status 1). What the
# warm-up built is frozen (gc.freeze): the program's collections and the
# interpreter's last one at exit do not walk it.
import sys


def _launch():
    import builtins
    import gc
    import importlib
    import importlib.machinery
    import os
    import types

    for module in sys.argv[1:]:
        importlib.import_module(module)
    # What the warm-up built lives until exit: out of the collector's sight
    # (as in a server that forks workers), so neither the program's
    # collections nor the interpreter's last one at exit walk it (with
    # pandas that last walk took ~0.2 s of every run, cold or preloaded).
    gc.collect()
    gc.freeze()
    with os.fdopen(3, "rb") as go:
        header = go.read(4)
        length = int.from_bytes(header, "big") if len(header) == 4 else 0
        argv = go.read(length).decode("utf-8", "surrogateescape").split("\0")[:-1]
    if len(argv) < 2:
        sys.exit(0)  # no job for this launcher
    script = next(a for a in argv[1:] if not a.startswith("-"))
    path = os.path.abspath(script)
    sys.argv = argv[argv.index(script, 1):]
    sys.path[0] = os.path.dirname(path)
    with open(path, "rb") as source:
        code = compile(source.read(), path, "exec")
    # A fresh __main__ module: nothing of this launcher's own is in it.
    main = types.ModuleType("__main__")
    main.__dict__.update(
        __file__=path,
        __cached__=None,
        __loader__=importlib.machinery.SourceFileLoader("__main__", path),
        __builtins__=builtins,
    )
    sys.modules["__main__"] = main
    return code, main.__dict__


_code, _globals = _launch()
del _launch
try:
    exec(_code, _globals)
except SystemExit:
    raise
except BaseException as error:  # noqa: BLE001 - reported like the interpreter does
    error.__traceback__ = error.__traceback__.tb_next
    sys.excepthook(type(error), error, error.__traceback__)
    sys.exit(1)
