"""Warm runs against a cold build of the same project (same run, interleaved):

- `orchc check` with nothing changed ≤ 0.1× the cold build;
- one file changed (an operation's body edited), then `orchc build` ≤ 0.2× the cold build.
"""

from __future__ import annotations

from bench import common


def main() -> None:
    args = common.parser(__doc__.split("\n\n")[0]).parse_args()
    repeat = args.repeat or (1 if args.smoke else 3)
    project, summary = common.build_corpus(args, "incremental")
    target = project / "src" / "pkg00" / "mod001.py"
    original = target.read_text(encoding="utf-8")
    cold, check, changed = [], [], []
    for round_ in range(repeat):
        target.write_text(original, encoding="utf-8")
        common.clean(project)
        cold.append(common.orchc("build", project).seconds)
        check.append(common.orchc("check", project).seconds)
        # edit one operation's body: its source hash (so the lock and one module) change
        target.write_text(original.replace("log.debug('%d rows', len(rows))",
                                           f"log.debug('%d rows (edit {round_})', len(rows))", 1), encoding="utf-8")
        changed.append(common.orchc("build", project).seconds)
    target.write_text(original, encoding="utf-8")
    base = common.median(cold)
    size = f"{summary['files']} files, {summary['operations']} ops; median of {repeat}"
    common.line("warm-check", common.median(check) / base, 0.1,
                f"check={common.median(check):.2f}s cold-build={base:.2f}s ({size})")
    common.line("one-file-changed-build", common.median(changed) / base, 0.2,
                f"build={common.median(changed):.2f}s cold-build={base:.2f}s ({size})")


if __name__ == "__main__":
    main()
