"""The README and the documentation say what the project does: the quick start has
exactly the two commands CI runs; the README stays short, cites no issue or commit and
links only pages that exist (and every page of docs/); the numbers the docs quote from
the dry runs and the configuration files are theirs; and the files of the Snakemake
workflow catalog (config/README.md, .snakemake-workflow-catalog.yml) are complete."""

from __future__ import annotations

import re

import yaml
from project import configuration

from symlearn.settings.resources import ANALYSIS_RULES, GPU_RULES, job_threads

#: a newcomer reads the README in five minutes; the rest is in docs/
README_MAX_LINES = 250


def _readme(root) -> str:
    return (root / "README.md").read_text()


def _quick_start_commands(root):
    section = _readme(root).split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def _docs_section(root, page: str, title: str) -> str:
    """docs/``page``'s ``## title`` section, up to the next one."""
    text = (root / "docs" / page).read_text()
    assert f"## {title}\n" in text, f"docs/{page} has no section '{title}'"
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_two_commands(root):
    install_and_run, install_and_test = _quick_start_commands(root)
    assert install_and_run.endswith("&& snakemake")
    assert install_and_test.endswith("&& pytest")
    assert "pip install -r envs/requirements.txt -e ." in install_and_run


def test_ci_runs_the_readme_test_command(root):
    _, install_and_test = _quick_start_commands(root)
    ci = (root / ".ci" / "run").read_text().splitlines()
    assert install_and_test in ci


def test_readme_is_short(root):
    lines = _readme(root).splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines (at most {README_MAX_LINES}): move the "
        "details to a page of docs/")


def test_readme_cites_no_issue_or_commit(root):
    text = _readme(root)
    issues = re.findall(r"\b(?:issues?|PR|pull request)\s*#?\d+|(?<![\w&])#\d+\b", text,
                        flags=re.IGNORECASE)
    assert not issues, issues
    # a commit hash: 7 to 40 hex digits with both a digit and a letter
    hashes = [word for word in re.findall(r"\b[0-9a-f]{7,40}\b", text)
              if re.search(r"\d", word) and re.search(r"[a-f]", word)]
    hashes += re.findall(r"\bcommits?\s+[0-9a-f]{7,40}\b", text, flags=re.IGNORECASE)
    assert not hashes, hashes


def test_readme_links_existing_pages_and_every_docs_page(root):
    text = _readme(root)
    linked = set(re.findall(r"\b(?:docs|config)/[\w.-]+\.md\b", text))
    assert not [page for page in linked if not (root / page).is_file()]
    pages = {f"docs/{path.name}" for path in (root / "docs").glob("*.md")}
    assert pages <= linked, f"not in the README's map of docs/: {sorted(pages - linked)}"
    assert "CHANGELOG.md" in text and (root / "CHANGELOG.md").is_file()


def test_docs_cite_only_pages_and_paths_inside_the_repository(root):
    """Every docs/*.md a page names exists, and no page cites a path outside the
    repository."""
    pages = [*(root / "docs").glob("*.md"), root / "config" / "README.md",
             root / "README.md", root / "CHANGELOG.md"]
    for page in pages:
        text = page.read_text()
        for cited in set(re.findall(r"\bdocs/[\w.-]+\.md\b", text)):
            assert (root / cited).is_file(), f"{page.name} cites {cited}, which is missing"
        assert not re.search(r"(?<![\w.])\.\./", text), f"{page.name} cites a path outside"


def test_readme_checkpoints_are_the_default_last_epoch(root):
    """The checkpoint paths the README and the docs quote (`mtt export ...epoch_N.ckpt`,
    the benchmarks' defaults) are the default's last epoch."""
    epochs = configuration()["pet"]["training"]["epochs"]
    for page in ("README.md", "docs/diagnose.md", "docs/performance.md", "docs/reruns.md"):
        quoted = set(re.findall(r"/epoch_(\d+)(?:\.ckpt|/)", (root / page).read_text()))
        assert quoted <= {str(epochs)}, (page, quoted, epochs)


def test_readme_findings_and_paper_facts_are_the_configuration(root):
    """The README's seeds of config/findings.yaml and the results folder of each file."""
    text = " ".join(_readme(root).split())
    findings = configuration("findings.yaml")
    [seeds] = {int(n) for n in re.findall(r"(\d+) training seeds", text)}
    assert seeds == len(findings["pet"]["seeds"]) == len(findings["polarmae"]["seeds"])
    for name in ("findings.yaml", "paper.yaml"):
        assert f"`{configuration(name)['results']}/`" in text, name


def test_paper_job_counts_in_the_docs_are_the_dry_run(root):
    """docs/paper-scale.md's table of the paper configuration's jobs is what
    `snakemake -n` resolves: every named rule's count, the rest, and the total."""
    from dryrun import dry_run

    _, jobs = dry_run("--configfile", str(root / "config" / "paper.yaml"))
    section = _docs_section(root, "paper-scale.md",
                            "The jobs, and the GPU hours they should take")
    rows = re.findall(r"^\| (.+?) \| \**([\d +]+?)\** \|", section, flags=re.MULTILINE)
    assert rows, "no job table in docs/paper-scale.md"
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


def test_findings_job_count_in_the_docs_is_the_dry_run(root):
    from dryrun import dry_run

    _, jobs = dry_run("--configfile", str(root / "config" / "findings.yaml"))
    text = " ".join((root / "docs" / "findings.md").read_text().split())
    [stated] = re.findall(r"findings\.yaml` resolves \*\*(\d+) jobs\*\*", text)
    assert int(stated) == jobs["total"]


def test_slurm_resource_table_is_the_paper_configuration(root):
    """docs/slurm.md's table of what each job asks a cluster for quotes
    config/paper.yaml."""
    section = _docs_section(root, "slurm.md", "Resources per rule at paper scale")
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


def test_config_readme_names_every_top_level_key(root):
    """config/README.md, the configuration reference the workflow catalog shows, has a
    section for every top-level property of the schema, and names the three files."""
    schema = yaml.safe_load(
        (root / "workflow" / "schemas" / "config.schema.yaml").read_text())
    text = (root / "config" / "README.md").read_text()
    missing = [key for key in schema["properties"] if f"### `{key}`" not in text]
    assert not missing, f"config/README.md has no section for {missing}"
    for name in ("config.yaml", "findings.yaml", "paper.yaml"):
        assert f"`config/{name}`" in text, name


def test_workflow_catalog_file(root):
    """.snakemake-workflow-catalog.yml parses, with the keys the catalog reads
    (usage.mandatory-flags, usage.software-stack-deployment, usage.report)."""
    settings = yaml.safe_load((root / ".snakemake-workflow-catalog.yml").read_text())
    usage = settings["usage"]
    assert {"desc", "flags"} <= set(usage["mandatory-flags"])
    assert isinstance(usage["software-stack-deployment"], dict)
    assert usage["report"] is True
