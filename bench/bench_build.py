"""Cold `orchc build` of a generated project against libcst's parse of the same files.

Rows: one process (`ORCHC_WORKERS=1`) ≤ 1.25× the serial parse; the default worker count
≤ 0.75× the same serial parse; and the build's peak memory (≤ 1 GiB). Each figure is the
median of `--repeat` runs, build and parse interleaved.
"""

from __future__ import annotations

from bench import common


def main() -> None:
    args = common.parser(__doc__.split("\n\n")[0]).parse_args()
    repeat = args.repeat or (1 if args.smoke else 3)
    project, summary = common.build_corpus(args, "build")
    serial, parallel, floor, peaks = [], [], [], []
    for _ in range(repeat):
        floor.append(common.parse_floor(project).seconds)
        common.clean(project)
        one = common.orchc("build", project, env={"ORCHC_WORKERS": "1"})
        serial.append(one.seconds)
        peaks.append(one.peak)
        common.clean(project)
        many = common.orchc("build", project, env={"ORCHC_WORKERS": ""})
        parallel.append(many.seconds)
        peaks.append(many.peak)
    base = common.median(floor)
    size = f"{summary['files']} files, {summary['lines']} lines, {summary['operations']} ops"
    common.line("cold-build-serial", common.median(serial) / base, 1.25,
                f"build={common.median(serial):.2f}s parse={base:.2f}s ({size}; median of {repeat}) "
                f"peak={common.mib(max(peaks[0::2]))}")
    common.line("cold-build-parallel", common.median(parallel) / base, 0.75,
                f"build={common.median(parallel):.2f}s serial-parse={base:.2f}s workers=default "
                f"({size}) peak={common.mib(max(peaks[1::2]))}")
    peak = max(peaks)
    common.line("build-peak-memory", peak / 2**30, 1.0,
                f"peak RSS={common.mib(peak)} of 1 GiB ({summary['operations']} ops, worst of serial/parallel)")


if __name__ == "__main__":
    main()
