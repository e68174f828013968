"""The README's quick start has exactly two commands, and CI runs the second verbatim."""

from __future__ import annotations

import re

from project import configuration, readme_section

from symlearn.config import ANALYSIS_RULES, GPU_RULES, job_threads


def _quick_start_commands(root):
    text = (root / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_two_commands(root):
    install_and_run, install_and_test = _quick_start_commands(root)
    assert install_and_run.endswith("&& snakemake")
    assert install_and_test.endswith("&& pytest")
    assert "pip install -r envs/requirements.txt -e ." in install_and_run


def test_ci_runs_the_readme_test_command(root):
    _, install_and_test = _quick_start_commands(root)
    ci = (root / ".ci" / "run").read_text().splitlines()
    assert install_and_test in ci


def test_paper_job_counts_in_the_readme_are_the_dry_run(root):
    """The README's table of the paper configuration's jobs is what `snakemake -n`
    resolves: every named rule's count, the rest, and the total."""
    from dryrun import dry_run

    _, jobs = dry_run("--configfile", str(root / "config" / "paper.yaml"))
    text = (root / "README.md").read_text()
    section = text.split("## Real data and the paper scale", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (.+?) \| \**([\d +]+?)\** \|", section, flags=re.MULTILINE)
    assert rows, "no job table in the README's paper-scale section"
    named = 0
    for rules, count in rows:
        stated = sum(int(n) for n in count.split("+"))
        if rules.strip("*") == "total":
            assert stated == jobs["total"]
        elif rules.startswith("the rest"):
            rest = stated
        else:
            names = [r.strip() for r in rules.split(",")]
            assert stated == sum(jobs[name] for name in names), rules
            named += stated
    assert named + rest == jobs["total"]


def test_slurm_resource_table_is_the_paper_configuration(root):
    """The README's table of what each job asks a cluster for quotes config/paper.yaml."""

    section = readme_section("On a SLURM cluster")
    rows = [[cell.strip() for cell in line.strip("|").split("|")]
            for line in section.splitlines() if line.startswith("| ")]
    config = configuration("paper.yaml")
    paper = config["resources"]
    # the CPUs of the GPU jobs are their threads, all the same in paper.yaml
    [threads] = set(job_threads(config).values())
    # the analysis rules of the other analysis.jobs setting are not defined at paper scale
    undefined = {rule for jobs, rules in ANALYSIS_RULES.items()
                 if jobs != config["analysis"]["jobs"] for rule in rules}
    for rule in set(GPU_RULES) - undefined:
        [row] = [r for r in rows if rule in r[0].replace(" ", "").split(",")]
        assert row[2] == f"{threads} per GPU", (rule, row[2])
    for rule, asked in paper.items():
        [row] = [r for r in rows if rule in r[0].replace(" ", "").split(",")]
        memory, time = row[3], row[4]
        assert f"{asked['mem_mb'] // 1000}" in re.findall(r"\d+", memory), (rule, memory)
        minutes = asked["runtime"]
        quoted = f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"
        assert quoted in time or (minutes % 60 == 0 and f"{minutes // 60} to" in time) \
            or f"to {minutes // 60} h" in time, (rule, time)
