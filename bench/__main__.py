"""`python -m bench NAME [--quick]`: run one benchmark and write bench/results/NAME.json."""

import argparse
import importlib
import json

from bench.common import result_build, result_write

# Benchmark name -> module with `run(quick: bool) -> dict`. ("import" is a Python keyword,
# so that benchmark's module has another name.)
BENCHMARKS = {
    "browser_next": "bench.browser_next",
    "export": "bench.export",
    "generation": "bench.generation",
    "hotswap": "bench.hotswap",
    "import": "bench.import_prompts",
    "load": "bench.load",
    "loop": "bench.loop",
    "loop_strategies": "bench.loop_strategies",
    "next_task": "bench.next_task",
    "train": "bench.train",
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__, add_help=False)
    parser.add_argument("name", nargs="?", choices=sorted(BENCHMARKS))
    parser.add_argument(
        "--quick", action="store_true", help="A small smoke run that finishes within a minute."
    )
    parser.add_argument(
        "-h", "--help", action="store_true", help="Show this help (with NAME: its own options too)."
    )
    args, extra = parser.parse_known_args(argv)
    if args.help or args.name is None:
        parser.print_help()
        if args.name is not None:
            module = importlib.import_module(BENCHMARKS[args.name])
            if hasattr(module, "options"):
                print(f"\nOptions of {args.name}:")
                module.options(["--help"])  # argparse prints them and exits
        raise SystemExit(0 if args.help else 2)
    module = importlib.import_module(BENCHMARKS[args.name])
    # A benchmark may take options of its own: `options(argv) -> dict` of run's keywords.
    if extra and not hasattr(module, "options"):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    options = module.options(extra) if hasattr(module, "options") else {}
    figures = module.run(quick=args.quick, **options)
    # A run with options may name its own result file (next_task --selection uncertainty
    # writes next_task.uncertainty.json beside the default's next_task.json).
    name = figures.pop("result_name", args.name)
    result = result_build(args.name, figures)
    path = result_write(name, result, quick=args.quick)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"Wrote {path}")


if __name__ == "__main__":
    main()
