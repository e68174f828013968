"""What a change reruns, and what a mistake says, on a copy of a finished project.

A user's changes, tried on a `cp -r` copy (modification times not kept) of a project
whose `snakemake` has finished: each line gives the change, what `snakemake -n` plans
(jobs by rule) or the first line of what it refuses with. Settings of how jobs run must
plan nothing; a result setting plans what depends on it; a truncated checkpoint and the
configuration mistakes stop before any job, naming the file or the key. The tests check
the same cases on the tiny configuration (tests/integration, tests/unit/test_cli_errors.py);
this script shows them on a run of any size:

    python tests/probes/rerun_probes.py --project PATH_OF_A_FINISHED_CLONE

The copy is made in a temporary folder (``--keep`` keeps it); the project is not touched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dryrun import job_counts  # noqa: E402

#: how-it-runs settings (docs/reruns.md): each must plan nothing
HOW_IT_RUNS = {
    "device=cpu": ["device=cpu"],
    "pet.training.threads=2": ['pet={"training": {"threads": 2}}'],
    "analysis.pet.batch_atoms=512": ['analysis={"pet": {"batch_atoms": 512}}'],
    "analysis.pet.threads=2": ['analysis={"pet": {"threads": 2}}'],
    "polarmae.cache_events=100": ['polarmae={"cache_events": 100}'],
    "analysis.jobs=per_checkpoint": ['analysis={"jobs": "per_checkpoint"}'],
}


def snakemake(project: Path, *args: str, cwd: Path | None = None) -> tuple[int, str]:
    command = [sys.executable, "-m", "snakemake", "--cores", "1", *args]
    done = subprocess.run(command, cwd=cwd or project, capture_output=True, text=True)
    return done.returncode, done.stdout + done.stderr


def plan(output: str) -> str:
    if "Nothing to be done" in output:
        return "0 jobs"
    counts = job_counts(output)
    total = counts.pop("total", 0)
    return f"{total} jobs: " + ", ".join(f"{rule} {n}" for rule, n in counts.items())


#: Snakemake's framing around an error: its banner, the rule, the input function
FRAMING = ("Using ", "Assuming ", "Building DAG", "Config file", "Host:", "Provided ",
           "SNAKEMAKE", "=====", "Date:", "Workflow ID:", "Platform:", "User:",
           "Snakemake version:", "Python version:", "Command:", "Snakefile:",
           "Base directory:", "Run directory:", "Working directory:", "Config file(s):",
           "Config MD5:", "WorkflowError in file", "invalid configuration:", "File \"",
           "InputFunctionException", "Error:", "WorkflowError:", "Wildcards:",
           "Traceback:")


def refusal(output: str) -> str:
    """The first line that says what is wrong, Snakemake's framing left out."""
    for line in output.splitlines():
        text = line.strip()
        if text and not text.startswith(FRAMING):
            return text.removeprefix("- ")
    return "(no output)"


def report(name: str, code: int, output: str) -> None:
    said = plan(output) if code == 0 else f"exit {code}: {refusal(output)}"
    print(f"- {name}: {said}", flush=True)


def probe(project: Path) -> None:
    # a copy as `cp -r` makes it: new modification times everywhere
    report("cp -r of the project", *snakemake(project, "-n"))
    for name, values in HOW_IT_RUNS.items():
        report(name, *snakemake(project, "-n", "--config", *values))
    report("analysis.purification.n_rotations=3 (a result)",
           *snakemake(project, "-n", "--config",
                      'analysis={"purification": {"n_rotations": 3}}'))
    report("README: results/train/pet/pet-aug/seed_0/best_model.pt --forcerun train_pet",
           *snakemake(project, "-n", "results/train/pet/pet-aug/seed_0/best_model.pt",
                      "--forcerun", "train_pet"))
    for path in sorted((project / "results" / "data").rglob("*")):
        if path.is_file():
            path.touch()
    report("touch of every data file", *snakemake(project, "-n"))

    config = project / "config"
    probes = {
        "epochs: 30.0": "pet:\n  training:\n    epochs: 30.0\n",
        # the default's own values, as YAML 1.1 reads them (a float that is whole,
        # and 3e-3, which YAML 1.1 reads as a string): nothing to rerun
        "learning_rate: 3e-3": "pet:\n  training:\n    learning_rate: 3e-3\n",
        "epochs: 30.5": "pet:\n  training:\n    epochs: 30.5\n",
        "a duplicated block": "pet:\n  training:\n    epochs: 2\npet:\n  training:\n"
                              "    epochs: 3\n",
        "results: null": "results: null\n",
    }
    for name, text in probes.items():
        (config / "probe.yaml").write_text(text)
        report(f"--configfile with {name}",
               *snakemake(project, "-n", "--configfile", "config/probe.yaml"))
    (config / "probe.yaml").unlink()
    report("snakemake -s ../Snakefile from docs/",
           *snakemake(project, "-n", "-s", "../Snakefile", cwd=project / "docs"))
    done = subprocess.run([sys.executable, "-m", "symlearn", "check-config",
                           "config/paper.yaml"], cwd=project, capture_output=True,
                          text=True)
    print(f"- check-config config/paper.yaml: exit {done.returncode}: "
          f"{refusal(done.stdout + done.stderr)}", flush=True)

    checkpoints = sorted((project / "results" / "train" / "pet" / "pet-aug" /
                          "checkpoints").glob("epoch_*.ckpt"),
                         key=lambda p: int(p.stem.split("_")[1]))
    if checkpoints:
        last = checkpoints[-1]
        last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
        report(f"{last.name} of pet-aug cut to half its size",
               *snakemake(project, "-n"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True,
                        help="a clone of the repository whose `snakemake` has finished")
    parser.add_argument("--keep", action="store_true", help="keep the copy")
    args = parser.parse_args()
    if not (args.project / "results").is_dir():
        parser.error(f"--project: {args.project} has no results/ folder")
    where = Path(tempfile.mkdtemp(prefix="symlearn-probe-"))
    copy = where / "project"
    shutil.copytree(args.project, copy, symlinks=True, copy_function=shutil.copy,
                    ignore=shutil.ignore_patterns(".venv"))
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent),
                                          os.environ.get("PATH", "")])
    print(f"# on a copy of {args.project} ({copy})")
    try:
        probe(copy)
    finally:
        if not args.keep:
            shutil.rmtree(where, ignore_errors=True)


if __name__ == "__main__":
    main()
