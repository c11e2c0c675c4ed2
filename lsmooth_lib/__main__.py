"""Command line: ``python -m lsmooth_lib zoo list | train NAME... | verify``."""
import sys


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] != "zoo":
        print("usage: python -m lsmooth_lib zoo {list,train,verify} ...", file=sys.stderr)
        return 2
    from .zoo import main as zoo_main
    return zoo_main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
