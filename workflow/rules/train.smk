"""Training stage: PET through metatrain, one job per named run."""


rule train_pet:
    message:
        "Training PET run {wildcards.run}"
    input:
        train=pet_data("train"),
        val=pet_data("val"),
        test=pet_data("test"),
    output:
        checkpoints=expand(
            f"{RESULTS}/train/pet/{{{{run}}}}/checkpoints/epoch_{{epoch}}.ckpt",
            epoch=PET_EPOCHS,
        ),
        log=f"{RESULTS}/train/pet/{{run}}/train_log.csv",
        model=f"{RESULTS}/train/pet/{{run}}/model.pt",
        options=f"{RESULTS}/train/pet/{{run}}/options.yaml",
    params:
        settings=pet_settings_json,
        out_dir=lambda wildcards, output: os.path.dirname(output.model),
        device=lookup(dpath="device", within=config),
    threads: pet_threads
    log:
        f"{RESULTS}/logs/train_pet/{{run}}.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn train-pet --settings {params.settings:q}"
        " --train {input.train} --val {input.val} --test {input.test}"
        " --out-dir {params.out_dir} --device {params.device} --threads {threads}"
        " > {log} 2>&1"
