"""Training stage: PET through metatrain, one job per named run; PoLAr-MAE pre-training
and fine-tuning, one job per run and phase."""


rule train_pet:
    message:
        "Training PET run {wildcards.run} (seed {wildcards.seed})"
    input:
        train=run_data("train", training=True),
        # no test split: a training depends only on what it trains and validates on,
        # so a change of the test split (which the analyses read) never reruns it
        val=run_data("val", training=True),
    output:
        checkpoints=expand(PET_CHECKPOINT, epoch=PET_EPOCHS, allow_missing=True),
        log=f"{PET_TRAINING}/train_log.csv",
        model=f"{PET_TRAINING}/best_model.pt",
        options=f"{PET_TRAINING}/options.yaml",
    # the longest chains first (a training, then its analyses and purification), so
    # that short jobs fill the cores at the end instead of a training running alone
    priority: 10
    params:
        settings=pet_settings_json,
        out_dir=lambda wildcards, output: os.path.dirname(output.model),
        device=DEVICE,
    threads: pet_threads
    resources:
        **job_resources("train_pet"),
    benchmark:
        benchmark_file("train_pet", "run", "seed"),
    log:
        f"{RESULTS}/logs/train_pet/{{run}}/seed_{{seed}}.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn train-pet --settings {params.settings:q}"
        " --train {input.train} --val {input.val}"
        " --out-dir {params.out_dir} --device {params.device} --threads {threads}"
        " > {log} 2>&1"


rule pretrain_polarmae:
    message:
        "Pre-training PoLAr-MAE run {wildcards.run} (seed {wildcards.seed}; masked point"
        " modelling)"
    input:
        train=lartpc_data("train"),
        val=lartpc_data("val"),
    output:
        checkpoints=polarmae_checkpoints("pretrain"),
        log=f"{POLARMAE_TRAINING}/pretrain/train_log.csv",
    # as the PET trainings: the PoLAr-MAE chains (pre-training, fine-tuning, then
    # their analyses) start early instead of ending the run alone
    priority: 10
    params:
        settings=polarmae_settings_json,
        out_dir=lambda wildcards, output: os.path.dirname(output.log),
        device=DEVICE,
        cache_events=POLARMAE_CACHE_EVENTS,
    threads: lookup(dpath="polarmae/threads", within=config)
    resources:
        **job_resources("pretrain_polarmae"),
    benchmark:
        benchmark_file("pretrain_polarmae", "run", "seed"),
    log:
        f"{RESULTS}/logs/pretrain_polarmae/{{run}}/seed_{{seed}}.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn train-polarmae pretrain --settings {params.settings:q}"
        " --train {input.train} --val {input.val} --out-dir {params.out_dir}"
        " --device {params.device} --threads {threads}"
        " --cache-events {params.cache_events} > {log} 2>&1"


rule finetune_polarmae:
    message:
        "Fine-tuning PoLAr-MAE run {wildcards.run} (seed {wildcards.seed}) for segmentation"
    input:
        train=lartpc_data("train"),
        val=lartpc_data("val"),
        pretrained=lambda wildcards: polarmae_checkpoints("pretrain", wildcards.run,
                                                          wildcards.seed)[-1],
    output:
        checkpoints=polarmae_checkpoints("finetune"),
        log=f"{POLARMAE_TRAINING}/finetune/train_log.csv",
    # as the PET trainings: the PoLAr-MAE chains (pre-training, fine-tuning, then
    # their analyses) start early instead of ending the run alone
    priority: 10
    params:
        settings=polarmae_settings_json,
        out_dir=lambda wildcards, output: os.path.dirname(output.log),
        device=DEVICE,
        cache_events=POLARMAE_CACHE_EVENTS,
    threads: lookup(dpath="polarmae/threads", within=config)
    resources:
        **job_resources("finetune_polarmae"),
    benchmark:
        benchmark_file("finetune_polarmae", "run", "seed"),
    log:
        f"{RESULTS}/logs/finetune_polarmae/{{run}}/seed_{{seed}}.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn train-polarmae finetune --settings {params.settings:q}"
        " --train {input.train} --val {input.val} --init-from {input.pretrained}"
        " --out-dir {params.out_dir} --device {params.device} --threads {threads}"
        " --cache-events {params.cache_events} > {log} 2>&1"
