"""symlearn: rebuild the figures of "How unconstrained machine-learning models learn
physical symmetries" (Domina et al., arXiv:2603.24638), from data to plots.

Stages, one rules file each: data -> train -> analyse -> figures -> report (the cost
of every job).
Default run: `snakemake` (config/config.yaml). Paper scale:
`snakemake --configfile config/paper.yaml`.
"""

import os

from snakemake.utils import min_version

min_version("9.0")


# the embedded default, found next to this file whatever the working directory;
# --configfile FILE overrides it key by key
configfile: os.path.join(workflow.basedir, "config", "config.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/analyse.smk"
include: "workflow/rules/figures.smk"
# a model family without a training stage: its analysis and figure rules in one block
include: "workflow/rules/metatomic.smk"
include: "workflow/rules/calculators.smk"
# last: the cost of every job above, once they have all run
include: "workflow/rules/report.smk"


# `snakemake --report results/report.html`: every figure with its caption, the
# configuration and the software versions
report: "workflow/report/workflow.rst"


rule all:
    default_target: True
    input:
        final_targets(),
        rules.figure_cost.output,
