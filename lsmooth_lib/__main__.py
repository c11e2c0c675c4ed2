"""Command line: ``python -m lsmooth_lib zoo list | train NAME... | verify`` and ``python -m lsmooth_lib claims``."""
import sys


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "claims":
        from .claims import main as claims_main
        return claims_main(argv[1:])
    if not argv or argv[0] != "zoo":
        print("usage: python -m lsmooth_lib zoo {list,train,verify,import} ...\n"
              "       python -m lsmooth_lib claims [--json] [PATTERN]", file=sys.stderr)
        return 2
    from .zoo import main as zoo_main
    return zoo_main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
