"""The metatomic family: exported models of external.models, analysed, collected and
drawn (analysis stage, then figures stage). A family without training adds only this
block; none of its rules runs when external.models is empty."""


rule analyse_metatomic:
    message:
        "Symmetry analysis of the exported model {wildcards.model}"
    input:
        model=lambda wildcards: external_model_settings(config, wildcards.model)["path"],
        structures=external_structures,
    output:
        errors=f"{RESULTS}/analysis/metatomic/{{model}}/errors.csv",
        spectrum=f"{RESULTS}/analysis/metatomic/{{model}}/spectrum.csv",
        structures=f"{RESULTS}/analysis/metatomic/{{model}}/structures.parquet",
    params:
        settings=lambda wildcards: json.dumps(
            result_settings(
                external_model_settings(config, wildcards.model), "analysis.metatomic"
            ),
            sort_keys=True,
        ),
        out_dir=lambda wildcards, output: os.path.dirname(output.errors),
        device=DEVICE,
        runtime=ANALYSIS_RUNTIME["metatomic"],
    threads: lookup(dpath="analysis/metatomic/threads", within=config)
    resources:
        **job_resources("analyse_metatomic"),
    benchmark:
        benchmark_file("analyse_metatomic", "model"),
    log:
        f"{RESULTS}/logs/analyse_metatomic/{{model}}.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn analyse-metatomic --model {input.model}"
        " --structures {input.structures} --settings {params.settings:q}"
        " --out-dir {params.out_dir} --runtime {params.runtime:q}"
        " --device {params.device} --threads {threads}"
        " > {log} 2>&1"


# seconds of reading tables and drawing: under --profile slurm they run where snakemake
# runs, with no wait in a queue and no job start-up (docs/slurm.md)
localrules:
    collect_metatomic_analysis,
    figure_external,


rule collect_metatomic_analysis:
    message:
        "Collecting the analysis tables of every exported model"
    input:
        errors=expand(rules.analyse_metatomic.output.errors, model=EXTERNAL_MODELS),
        spectrum=expand(rules.analyse_metatomic.output.spectrum, model=EXTERNAL_MODELS),
    output:
        errors=f"{RESULTS}/analysis/metatomic/errors.csv",
        spectrum=f"{RESULTS}/analysis/metatomic/spectrum.csv",
    params:
        # an exported model has no training here: augmentation "external", epoch 0
        checkpoints=lambda wildcards, input: json.dumps(
            [
                {"run": model, "augmentation": "external", "epoch": 0,
                 "errors": errors, "spectrum": spectrum}
                for model, errors, spectrum in zip(
                    EXTERNAL_MODELS, input.errors, input.spectrum
                )
            ]
        ),
    benchmark:
        benchmark_file("collect_metatomic_analysis"),
    log:
        f"{RESULTS}/logs/collect_metatomic_analysis.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn collect --checkpoints {params.checkpoints:q}"
        " --out errors={output.errors} --out spectrum={output.spectrum} > {log} 2>&1"


# one figure per exported model and per calculator (workflow/rules/calculators.smk),
# from the collected tables of the family that analysed it
rule figure_external:
    message:
        "external: accuracy vs equivariance and the character spectrum of {wildcards.model}"
    input:
        unpack(external_tables),
    output:
        png=report(
            f"{FIGURES}/external_{{model}}.png",
            caption="../report/external.rst",
            category="Exported models",
            labels={"figure": "external_{model}"},
        ),
        pdf=f"{FIGURES}/external_{{model}}.pdf",
        csv=f"{FIGURES}/external_{{model}}.csv",
    params:
        prefix=output_prefix,
        options=lambda wildcards: json.dumps({"model": wildcards.model}),
    benchmark:
        benchmark_file("figure_external", "model"),
    log:
        f"{RESULTS}/logs/figures/external_{{model}}.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn figure external --input errors={input.errors}"
        " --input spectrum={input.spectrum} --options {params.options:q}"
        " --out {params.prefix} > {log} 2>&1"
