"""The calculator family: ASE calculators of external.calculators, analysed (A of
energy, forces and stress; no B: a calculator shows no features) and collected; each is
drawn by figure_external (workflow/rules/metatomic.smk). None of its rules runs when
external.calculators is empty."""


rule analyse_calculator:
    message:
        "Symmetry analysis of the ASE calculator {wildcards.calculator}"
    input:
        structures=calculator_structures,
    output:
        errors=f"{RESULTS}/analysis/calculators/{{calculator}}/errors.csv",
        spectrum=f"{RESULTS}/analysis/calculators/{{calculator}}/spectrum.csv",
        structures=f"{RESULTS}/analysis/calculators/{{calculator}}/structures.parquet",
    params:
        settings=lambda wildcards: json.dumps(
            result_settings(
                external_calculator_settings(config, wildcards.calculator),
                "analysis.metatomic",
            ),
            sort_keys=True,
        ),
        out_dir=lambda wildcards, output: os.path.dirname(output.errors),
    threads: lookup(dpath="analysis/metatomic/threads", within=config)
    resources:
        **job_resources("analyse_calculator"),
    benchmark:
        benchmark_file("analyse_calculator", "calculator"),
    log:
        f"{RESULTS}/logs/analyse_calculator/{{calculator}}.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn analyse-calculator --structures {input.structures}"
        " --settings {params.settings:q} --out-dir {params.out_dir}"
        " --threads {threads} > {log} 2>&1"


# seconds of reading tables: under --profile slurm it runs where snakemake runs
localrules:
    collect_calculator_analysis,


rule collect_calculator_analysis:
    message:
        "Collecting the analysis tables of every ASE calculator"
    input:
        errors=expand(rules.analyse_calculator.output.errors, calculator=EXTERNAL_CALCULATORS),
        spectrum=expand(
            rules.analyse_calculator.output.spectrum, calculator=EXTERNAL_CALCULATORS
        ),
    output:
        errors=f"{RESULTS}/analysis/calculators/errors.csv",
        spectrum=f"{RESULTS}/analysis/calculators/spectrum.csv",
    params:
        # a calculator has no training here: augmentation "external", epoch 0
        checkpoints=lambda wildcards, input: json.dumps(
            [
                {"run": name, "augmentation": "external", "epoch": 0,
                 "errors": errors, "spectrum": spectrum}
                for name, errors, spectrum in zip(
                    EXTERNAL_CALCULATORS, input.errors, input.spectrum
                )
            ]
        ),
    benchmark:
        benchmark_file("collect_calculator_analysis"),
    log:
        f"{RESULTS}/logs/collect_calculator_analysis.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn collect --checkpoints {params.checkpoints:q}"
        " --out errors={output.errors} --out spectrum={output.spectrum} > {log} 2>&1"
