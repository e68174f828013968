"""Data stage: the embedded atomistic generator or MAD-1.5 (fetched), the PET training
view, its memory-mapped copy and its geometric targets; the embedded liquid-argon event
simulator or PILArNet-M (fetched from the Hugging Face hub) and its split manifests."""


# the downloads need the internet, which cluster nodes often lack: under
# --profile slurm they run where snakemake runs
localrules:
    fetch_mad,
    fetch_pilarnet,


rule fetch_mad:
    message:
        "Downloading {wildcards.dataset}/{wildcards.split} (resumable, checksum verified)"
    output:
        data=f"{RESULTS}/data/atomistic/{{dataset}}/{{split}}.xyz",
        sha256=f"{RESULTS}/data/atomistic/{{dataset}}/{{split}}.xyz.sha256",
    wildcard_constraints:
        dataset=download_pattern("atomistic"),
    params:
        options=mad_fetch_options,
        retry_options=FETCH_RETRY_OPTIONS,
    benchmark:
        benchmark_file("fetch_mad", "dataset", "split"),
    log:
        f"{RESULTS}/logs/fetch_mad/{{dataset}}_{{split}}.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        # the progress bar goes to the terminal and to the log
        "python -m symlearn fetch {output.data} {params.options} {params.retry_options}"
        " 2>&1 | tee {log}"


rule make_atomistic:
    message:
        "Generating the embedded atomistic data set (EMT labels)"
    output:
        **{
            split: f"{RESULTS}/data/atomistic/synthetic/{split}.xyz"
            for split in SPLITS
        },
        # per split and subset: structures, atoms, elements, the spread of each target
        summary=f"{RESULTS}/data/atomistic/synthetic/summary.csv",
    params:
        seed=lookup(dpath="data/atomistic/synthetic/seed", within=config),
        max_atoms=lookup(dpath="data/atomistic/synthetic/max_atoms", within=config),
        metals=" ".join(lookup(dpath="data/atomistic/synthetic/metals", within=config)),
        adsorbates=" ".join(
            lookup(dpath="data/atomistic/synthetic/adsorbates", within=config)
        ),
        n_structures=json.dumps(
            lookup(dpath="data/atomistic/synthetic/n_structures", within=config)
        ),
        split=json.dumps(lookup(dpath="data/atomistic/split", within=config)),
        out_dir=lambda wildcards, output: os.path.dirname(output.train),
    benchmark:
        benchmark_file("make_atomistic"),
    log:
        f"{RESULTS}/logs/make_atomistic.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn make-atomistic --seed {params.seed}"
        " --max-atoms {params.max_atoms} --metals {params.metals}"
        " --adsorbates {params.adsorbates} --n-structures {params.n_structures:q}"
        " --split {params.split:q} --out-dir {params.out_dir} > {log} 2>&1"


rule prepare_pet_data:
    message:
        "Checking {wildcards.dataset}/{wildcards.split}.xyz, writing its PET training view"
    input:
        f"{RESULTS}/data/atomistic/{{dataset}}/{{split}}.xyz",
    output:
        f"{RESULTS}/data/atomistic/{{dataset}}/pet/{{split}}.xyz",
    priority: 20
    params:
        subset=atomistic_subset,
    resources:
        **job_resources("prepare_pet_data"),
    benchmark:
        benchmark_file("prepare_pet_data", "dataset", "split"),
    log:
        f"{RESULTS}/logs/prepare_pet_data/{{dataset}}_{{split}}.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn prepare-pet-data {input} {output} {params.subset} > {log} 2>&1"


rule pet_memmap:
    message:
        "Writing the memory-mapped copy of {wildcards.dataset}/pet/{wildcards.split}.xyz"
    input:
        rules.prepare_pet_data.output[0],
    output:
        directory(f"{RESULTS}/data/atomistic/{{dataset}}/pet/{{split}}.memmap"),
    resources:
        **job_resources("pet_memmap"),
    benchmark:
        benchmark_file("pet_memmap", "dataset", "split"),
    log:
        f"{RESULTS}/logs/pet_memmap/{{dataset}}_{{split}}.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn pet-memmap {input} {output} > {log} 2>&1"


rule geometric_targets:
    message:
        "Computing the geometric targets (pseudoscalar, density projections) of"
        " {wildcards.dataset}/{wildcards.split}"
    input:
        rules.prepare_pet_data.output[0],
    output:
        f"{RESULTS}/data/atomistic/{{dataset}}/geometric/{{split}}.xyz",
    # ahead of the short jobs: the longest chains (trainings, then analyses) start first
    priority: 20
    params:
        cutoff=lookup(dpath="data/atomistic/geometric_targets/cutoff", within=config),
        width=lookup(dpath="data/atomistic/geometric_targets/cutoff_width", within=config),
        lambda_max=lookup(dpath="data/atomistic/geometric_targets/lambda_max", within=config),
    resources:
        **job_resources("geometric_targets"),
    benchmark:
        benchmark_file("geometric_targets", "dataset", "split"),
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
    benchmark:
        benchmark_file("make_lartpc"),
    log:
        f"{RESULTS}/logs/make_lartpc.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn make-lartpc --seed {params.seed} --layout {params.layout}"
        " --n-events {params.n_events:q} --out-dir {params.out_dir} > {log} 2>&1"


rule fetch_pilarnet:
    message:
        "Downloading {wildcards.file} of {wildcards.dataset} (resumable, checksum verified)"
    output:
        data=f"{RESULTS}/data/lartpc/{{dataset}}/files/{{file}}",
        sha256=f"{RESULTS}/data/lartpc/{{dataset}}/files/{{file}}.sha256",
    wildcard_constraints:
        dataset=download_pattern("lartpc"),
        file=r"[^\s]+\.h5",
    params:
        options=pilarnet_fetch_options,
        retry_options=FETCH_RETRY_OPTIONS,
    benchmark:
        benchmark_file("fetch_pilarnet", "dataset", "file"),
    log:
        f"{RESULTS}/logs/fetch_pilarnet/{{dataset}}/{{file}}.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        # the progress bar goes to the terminal and to the log
        "python -m symlearn fetch {output.data} {params.options} {params.retry_options}"
        " 2>&1 | tee {log}"


rule lartpc_split:
    message:
        "Checking the {wildcards.split} files of {wildcards.dataset}, writing the split's"
        " manifest"
    input:
        pilarnet_split_files,
    output:
        f"{RESULTS}/data/lartpc/{{dataset}}/{{split}}.json",
    wildcard_constraints:
        dataset=download_pattern("lartpc"),
    params:
        events=pilarnet_split_events,
    resources:
        **job_resources("lartpc_split"),
    benchmark:
        benchmark_file("lartpc_split", "dataset", "split"),
    log:
        f"{RESULTS}/logs/lartpc_split/{{dataset}}_{{split}}.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn lartpc-split {input:q} --output {output} {params.events}"
        " > {log} 2>&1"
