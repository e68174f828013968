"""Figures stage: every figure and table drawn from the analysis tables (never a model),
and the provenance (resolved configuration, software versions) the report shows."""


# seconds of reading tables and drawing: under --profile slurm they run where snakemake
# runs, with no wait in a queue and no job start-up (docs/slurm.md)
localrules:
    provenance,
    fig1,
    fig2,
    fig3,
    fig4,
    fig5,
    fig6,
    fig7,
    fig8,
    table1,
    learnability,
    claims,


rule provenance:
    message:
        "Recording the resolved configuration and the software versions"
    output:
        config=report(
            f"{RESULTS}/provenance/config.yaml",
            caption="../report/config.rst",
            category="Provenance",
        ),
        software=report(
            f"{RESULTS}/provenance/software.csv",
            caption="../report/software.rst",
            category="Provenance",
        ),
    params:
        # what the results depend on (not how the jobs ran: symlearn.settings.reruns.HOW_IT_RUNS);
        # a function: the mirror templates' {file} is not a wildcard
        config=lambda wildcards: json.dumps(result_config(config), sort_keys=True),
        # a change of any version reruns the rule (params are a rerun trigger)
        versions=SOFTWARE_VERSIONS,
    benchmark:
        benchmark_file("provenance"),
    log:
        f"{RESULTS}/logs/provenance.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn provenance --config {params.config:q}"
        " --config-out {output.config} --software-out {output.software} > {log} 2>&1"


rule fig1:
    message:
        "fig1: the O(3) quadrature, and one liquid-argon event in two orientations"
    input:
        quadrature=expand(rules.quadrature_table.output[0], degree=PET_GRID_DEGREE),
        example=rules.polarmae_example.output[0],
    output:
        **figure_outputs("fig1", "Method"),
    params:
        prefix=output_prefix,
    benchmark:
        benchmark_file("fig1"),
    log:
        f"{RESULTS}/logs/figures/fig1.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn figure fig1 --input quadrature={input.quadrature}"
        " --input example={input.example}"
        " --out {params.prefix} > {log} 2>&1"


rule fig2:
    message:
        "fig2: accuracy vs equivariance and the character spectrum of every layer"
    input:
        errors=rules.collect_pet_analysis.output.errors,
        spectrum=rules.collect_pet_analysis.output.spectrum,
        # the per-structure rows: the bars' bootstrap intervals
        structures=rules.collect_pet_analysis.output.structures,
    output:
        **figure_outputs("fig2", "PET"),
    params:
        prefix=output_prefix,
        options=json.dumps(lookup(dpath="figures/bootstrap", within=config)),
    benchmark:
        benchmark_file("fig2"),
    log:
        f"{RESULTS}/logs/figures/fig2.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn figure fig2 --input errors={input.errors}"
        " --input spectrum={input.spectrum} --input structures={input.structures}"
        " --options {params.options:q} --out {params.prefix} > {log} 2>&1"


rule fig3:
    message:
        "fig3: PET training dynamics of the errors and of the character fractions"
    input:
        errors=rules.collect_pet_analysis.output.errors,
        spectrum=rules.collect_pet_analysis.output.spectrum,
        # the per-structure rows: each point's bootstrap interval
        structures=rules.collect_pet_analysis.output.structures,
    output:
        **figure_outputs("fig3", "PET"),
    params:
        prefix=output_prefix,
        options=json.dumps(
            {
                "layers": fig3_layers(config),
                **lookup(dpath="figures/bootstrap", within=config),
            }
        ),
    benchmark:
        benchmark_file("fig3"),
    log:
        f"{RESULTS}/logs/figures/fig3.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn figure fig3 --input errors={input.errors}"
        " --input spectrum={input.spectrum} --input structures={input.structures}"
        " --options {params.options:q}"
        " --out {params.prefix} > {log} 2>&1"


rule fig4:
    message:
        "fig4: PoLAr-MAE token spectra per block, equivariance error vs instability"
    input:
        # the collected tables and each run's points.parquet (panel c)
        unpack(fig4_inputs),
    output:
        **figure_outputs("fig4", "PoLAr-MAE"),
    params:
        prefix=output_prefix,
        options=fig4_options,
    benchmark:
        benchmark_file("fig4"),
    log:
        f"{RESULTS}/logs/figures/fig4.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn figure fig4 --input spectrum={input.spectrum}"
        " --input instability={input.instability} --options {params.options:q}"
        " --out {params.prefix} > {log} 2>&1"


rule fig5:
    message:
        "fig5: PoLAr-MAE training dynamics of A and B, pre-training and fine-tuning"
    input:
        errors=rules.collect_polarmae_analysis.output.errors,
        spectrum=rules.collect_polarmae_analysis.output.spectrum,
    output:
        **figure_outputs("fig5", "PoLAr-MAE"),
    params:
        prefix=output_prefix,
    benchmark:
        benchmark_file("fig5"),
    log:
        f"{RESULTS}/logs/figures/fig5.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn figure fig5 --input errors={input.errors}"
        " --input spectrum={input.spectrum} --out {params.prefix} > {log} 2>&1"


rule fig6:
    message:
        "fig6: a pseudoscalar target, standard vs solid-harmonics edge embeddings"
    input:
        geometric_errors=rules.collect_geometric_analysis.output.errors,
        geometric_spectrum=rules.collect_geometric_analysis.output.spectrum,
        # the per-structure rows: panel a's intervals
        geometric_structures=rules.collect_geometric_analysis.output.structures,
    output:
        **figure_outputs("fig6", "Geometric targets"),
    params:
        prefix=output_prefix,
        options=json.dumps(lookup(dpath="figures/bootstrap", within=config)),
    benchmark:
        benchmark_file("fig6"),
    log:
        f"{RESULTS}/logs/figures/fig6.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn figure fig6 --input geometric_errors={input.geometric_errors}"
        " --input geometric_spectrum={input.geometric_spectrum}"
        " --input geometric_structures={input.geometric_structures}"
        " --options {params.options:q} --out {params.prefix} > {log} 2>&1"


rule fig7:
    message:
        "fig7: test error vs angular momentum of the target, per edge embedding"
    input:
        geometric_errors=rules.collect_geometric_analysis.output.errors,
    output:
        **figure_outputs("fig7", "Geometric targets"),
    params:
        prefix=output_prefix,
    benchmark:
        benchmark_file("fig7"),
    log:
        f"{RESULTS}/logs/figures/fig7.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn figure fig7 --input geometric_errors={input.geometric_errors}"
        " --out {params.prefix} > {log} 2>&1"


rule fig8:
    message:
        "fig8: accuracy and equivariance before and after purifying the readouts"
    input:
        purification=rules.collect_purification.output.table,
    output:
        **figure_outputs("fig8", "Purification"),
    params:
        prefix=output_prefix,
    benchmark:
        benchmark_file("fig8"),
    log:
        f"{RESULTS}/logs/figures/fig8.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn figure fig8 --input purification={input.purification}"
        " --out {params.prefix} > {log} 2>&1"


rule table1:
    message:
        "table1: the paper's headline numbers next to this run's"
    input:
        unpack(table1_inputs),
    output:
        csv=report(
            f"{FIGURES}/table1.csv",
            caption="../report/table1.rst",
            category="Summary",
            labels={"table": "table1"},
        ),
        md=f"{FIGURES}/table1.md",
    params:
        prefix=output_prefix,
        inputs=table_input_arguments,
        # the intervals' resamples and seed
        options=json.dumps(lookup(dpath="figures/bootstrap", within=config)),
    benchmark:
        benchmark_file("table1"),
    log:
        f"{RESULTS}/logs/figures/table1.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn figure table1 {params.inputs} --options {params.options:q}"
        " --out {params.prefix} > {log} 2>&1"


rule learnability:
    message:
        "learnability: each geometric target's test error, the equivariant control beside the PET runs"
    input:
        unpack(learnability_inputs),
    output:
        csv=report(
            f"{FIGURES}/learnability.csv",
            caption="../report/learnability.rst",
            category="Summary",
            labels={"table": "learnability"},
        ),
        md=f"{FIGURES}/learnability.md",
    params:
        prefix=output_prefix,
        inputs=table_input_arguments,
    benchmark:
        benchmark_file("learnability"),
    log:
        f"{RESULTS}/logs/figures/learnability.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn figure learnability {params.inputs} --out {params.prefix} > {log} 2>&1"


rule claims:
    message:
        "claims: each finding of the paper, with a verdict computed from the analysis tables"
    input:
        unpack(claims_inputs),
    output:
        csv=report(
            f"{FIGURES}/claims.csv",
            caption="../report/claims.rst",
            category="Summary",
            labels={"table": "claims"},
        ),
        md=f"{FIGURES}/claims.md",
    params:
        prefix=output_prefix,
        inputs=table_input_arguments,
        # the intervals' resamples and seed
        options=json.dumps(lookup(dpath="figures/bootstrap", within=config)),
    benchmark:
        benchmark_file("claims"),
    log:
        f"{RESULTS}/logs/figures/claims.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn figure claims {params.inputs} --options {params.options:q}"
        " --out {params.prefix} > {log} 2>&1"

