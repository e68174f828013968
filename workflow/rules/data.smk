"""Data stage: the embedded atomistic generator, the PET training view and its
geometric targets; the embedded liquid-argon event simulator."""


rule make_atomistic:
    message:
        "Generating the embedded atomistic data set (EMT labels)"
    output:
        **{
            split: f"{RESULTS}/data/atomistic/synthetic/{split}.xyz"
            for split in SPLITS
        },
    params:
        seed=lookup(dpath="data/atomistic/synthetic/seed", within=config),
        max_atoms=lookup(dpath="data/atomistic/synthetic/max_atoms", within=config),
        n_structures=json.dumps(
            lookup(dpath="data/atomistic/synthetic/n_structures", within=config)
        ),
        split=json.dumps(lookup(dpath="data/atomistic/split", within=config)),
        out_dir=lambda wildcards, output: os.path.dirname(output.train),
    log:
        f"{RESULTS}/logs/make_atomistic.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn make-atomistic --seed {params.seed}"
        " --max-atoms {params.max_atoms} --n-structures {params.n_structures:q}"
        " --split {params.split:q} --out-dir {params.out_dir} > {log} 2>&1"


rule prepare_pet_data:
    message:
        "Checking {wildcards.dataset}/{wildcards.split}.xyz, writing its PET training view"
    input:
        f"{RESULTS}/data/atomistic/{{dataset}}/{{split}}.xyz",
    output:
        f"{RESULTS}/data/atomistic/{{dataset}}/pet/{{split}}.xyz",
    log:
        f"{RESULTS}/logs/prepare_pet_data/{{dataset}}_{{split}}.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn prepare-pet-data {input} {output} > {log} 2>&1"


rule geometric_targets:
    message:
        "Computing the geometric targets (pseudoscalar, density projections) of"
        " {wildcards.dataset}/{wildcards.split}"
    input:
        rules.prepare_pet_data.output[0],
    output:
        f"{RESULTS}/data/atomistic/{{dataset}}/geometric/{{split}}.xyz",
    params:
        cutoff=lookup(dpath="data/atomistic/geometric_targets/cutoff", within=config),
        width=lookup(dpath="data/atomistic/geometric_targets/cutoff_width", within=config),
        lambda_max=lookup(dpath="data/atomistic/geometric_targets/lambda_max", within=config),
    log:
        f"{RESULTS}/logs/geometric_targets/{{dataset}}_{{split}}.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn geometric-targets {input} {output} --cutoff {params.cutoff}"
        " --cutoff-width {params.width} --lambda-max {params.lambda_max} > {log} 2>&1"


rule make_lartpc:
    message:
        "Simulating the embedded liquid-argon events (PILArNet-M layout)"
    output:
        **{split: f"{RESULTS}/data/lartpc/synthetic/{split}.h5" for split in SPLITS},
    params:
        seed=lookup(dpath="data/lartpc/synthetic/seed", within=config),
        layout=lookup(dpath="data/lartpc/synthetic/layout", within=config),
        n_events=json.dumps(lookup(dpath="data/lartpc/synthetic/n_events", within=config)),
        out_dir=lambda wildcards, output: os.path.dirname(output.train),
    log:
        f"{RESULTS}/logs/make_lartpc.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn make-lartpc --seed {params.seed} --layout {params.layout}"
        " --n-events {params.n_events:q} --out-dir {params.out_dir} > {log} 2>&1"
