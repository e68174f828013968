"""Analysis stage: the symmetry metrics (A and B) of every checkpoint."""


rule analyse_pet:
    message:
        "Symmetry analysis of PET run {wildcards.run} at epoch {wildcards.epoch}"
    input:
        checkpoint=f"{RESULTS}/train/pet/{{run}}/checkpoints/epoch_{{epoch}}.ckpt",
        structures=pet_data("test"),
    output:
        errors=f"{RESULTS}/analysis/pet/{{run}}/epoch_{{epoch}}/errors.csv",
        spectrum=f"{RESULTS}/analysis/pet/{{run}}/epoch_{{epoch}}/spectrum.csv",
        structures=f"{RESULTS}/analysis/pet/{{run}}/epoch_{{epoch}}/structures.parquet",
    params:
        settings=json.dumps(lookup(dpath="analysis/pet", within=config), sort_keys=True),
        out_dir=lambda wildcards, output: os.path.dirname(output.errors),
        device=lookup(dpath="device", within=config),
    threads: lookup(dpath="analysis/pet/threads", within=config)
    log:
        f"{RESULTS}/logs/analyse_pet/{{run}}/epoch_{{epoch}}.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn analyse-pet --checkpoint {input.checkpoint}"
        " --structures {input.structures} --settings {params.settings:q}"
        " --out-dir {params.out_dir} --device {params.device} --threads {threads}"
        " > {log} 2>&1"


rule collect_pet_analysis:
    message:
        "Collecting the PET analysis tables of every run and checkpoint"
    input:
        unpack(pet_checkpoint_tables),
    output:
        errors=f"{RESULTS}/analysis/pet/errors.csv",
        spectrum=f"{RESULTS}/analysis/pet/spectrum.csv",
    params:
        checkpoints=pet_checkpoint_entries,
    log:
        f"{RESULTS}/logs/collect_pet_analysis.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn collect-pet --checkpoints {params.checkpoints:q}"
        " --errors {output.errors} --spectrum {output.spectrum} > {log} 2>&1"


rule quadrature_table:
    message:
        "The O(3) quadrature of degree {wildcards.degree}, as a table"
    output:
        f"{RESULTS}/analysis/quadrature/degree_{{degree}}.csv",
    log:
        f"{RESULTS}/logs/quadrature_table/degree_{{degree}}.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn quadrature-table --degree {wildcards.degree} --out {output}"
        " > {log} 2>&1"
