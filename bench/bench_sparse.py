"""A large project where few files hold operations: cold `orchc build` against reading
every file and parsing only those with operations (≤ 1.5×)."""

from __future__ import annotations

from bench import common
from bench.corpus import generate


def main() -> None:
    args = common.parser(__doc__.split("\n\n")[0]).parse_args()
    files, with_ops = (100, 5) if args.smoke else (1000, 50)
    repeat = args.repeat or (1 if args.smoke else 3)
    project = common.workdir(args, f"sparse-{files}")
    summary = generate(project, files=files, ops_per_file=10, op_share=with_ops / files)
    chosen = sorted(str(p.relative_to(project)) for p in (project / "src").rglob("mod*.py")
                    if "from runtime import operation" in p.read_text(encoding="utf-8"))
    builds, floors = [], []
    for _ in range(repeat):
        floors.append(common.parse_floor(project, chosen).seconds)
        common.clean(project)
        builds.append(common.orchc("build", project).seconds)
    base = common.median(floors)
    common.line("sparse-build", common.median(builds) / base, 1.5,
                f"build={common.median(builds):.2f}s read-all+parse-{len(chosen)}={base:.2f}s "
                f"({summary['files']} files, {summary['op_files']} with {summary['operations']} ops; median of {repeat})")


if __name__ == "__main__":
    main()
