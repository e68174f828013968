"""Report stage: the cost of every job of the run (Snakemake's benchmark records),
gathered into one table and one figure."""


# seconds of reading tables and drawing: under --profile slurm they run where snakemake
# runs, with no wait in a queue and no job start-up (docs/slurm.md)
localrules:
    collect_benchmarks,
    figure_cost,


rule collect_benchmarks:
    message:
        "Collecting the benchmark record of every job into one table"
    input:
        # after every other job: the records are written when their jobs end
        final_targets(),
    output:
        f"{RESULTS}/benchmarks.csv",
    params:
        # the records sit beside the table: results/benchmarks/ for results/benchmarks.csv
        folder=lambda wildcards, output: os.path.splitext(output[0])[0],
    benchmark:
        benchmark_file("collect_benchmarks"),
    log:
        f"{RESULTS}/logs/collect_benchmarks.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn collect-benchmarks --folder {params.folder} --out {output}"
        " > {log} 2>&1"


rule figure_cost:
    message:
        "cost: where the jobs' time and memory went"
    input:
        benchmarks=rules.collect_benchmarks.output[0],
    output:
        **figure_outputs("cost", "Cost of this run"),
    params:
        prefix=output_prefix,
    benchmark:
        benchmark_file("figure_cost"),
    log:
        f"{RESULTS}/logs/figures/cost.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn figure cost --input benchmarks={input.benchmarks}"
        " --out {params.prefix} > {log} 2>&1"
