"""Command line: ``python -m lsmooth_lib zoo list | train NAME... | verify | import``, ``python -m lsmooth_lib claims``
and ``python -m lsmooth_lib diagnose --model FILE.py:FACTORY --weights FILE --dataset NAME`` (chapter 7).

Conventions: ``--help`` prints the usage and exits 0; an error is one line on stderr and a non-zero exit (``--debug``
anywhere on the line shows the traceback instead); a closed pipe (``... | head``) ends quietly.
"""
import os
import sys

USAGE = ("usage: python -m lsmooth_lib zoo {list,train,verify,import} ...   (the model zoo, appendix B)\n"
         "       python -m lsmooth_lib claims [--json] [PATTERN]         (the paper's claims and verdicts, appendix A)\n"
         "       python -m lsmooth_lib diagnose --model FILE.py:FACTORY --weights FILE --dataset NAME ...  (chapter 7)\n"
         "       add --help to a command for its options, --debug to see tracebacks")


def _dispatch(argv) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if argv and argv[0] == "claims":
        from .claims import main as claims_main
        return claims_main(argv[1:])
    if argv and argv[0] == "diagnose":
        from .diagnose import main as diagnose_main
        return diagnose_main(argv[1:])
    if argv and argv[0] == "zoo":
        from .runner import main as zoo_main
        return zoo_main(argv[1:])
    print(USAGE if not argv else f"error: unknown command {argv[0]!r}\n{USAGE}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    try:
        return _dispatch(argv)
    except BrokenPipeError:  # `python -m lsmooth_lib zoo list | head`: the reader left; so do we, quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - every error becomes one line unless --debug
        if debug:
            raise
        print(f"error: {type(err).__name__}: {err} (run with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
