"""Analysis stage: the symmetry metrics (A and B) of every checkpoint."""


# Per checkpoint (analysis.jobs: per_checkpoint), one job each: a cluster runs them as a
# job array. Per run (per_run, the default), one job analyses every checkpoint of a run
# in one process, which pays a job's start-up (Python, torch, metatrain: seconds) once;
# the tables and their paths are the same.
if ANALYSIS_JOBS == "per_checkpoint":

    rule analyse_pet:
        message:
            "Symmetry analysis of PET run {wildcards.run} (seed {wildcards.seed}) at epoch"
            " {wildcards.epoch}"
        input:
            # the run's analysed checkpoints, the per-run job's input (the one analysed
            # among them): a switch of analysis.jobs then reruns nothing, and a training
            # writes them all at once
            checkpoints=complete_checkpoints(pet_run_checkpoints),
            structures=run_data("test"),
        output:
            **PET_ANALYSIS,
        params:
            settings=pet_analysis_settings_json,
            jobs=pet_analysis_jobs,
            device=DEVICE,
            runtime=ANALYSIS_RUNTIME["pet"],
        threads: lookup(dpath="analysis/pet/threads", within=config)
        resources:
            **job_resources("analyse_pet"),
        benchmark:
            benchmark_file("analyse_pet", "run", "seed", "epoch")
        log:
            f"{RESULTS}/logs/analyse_pet/{{run}}/seed_{{seed}}/epoch_{{epoch}}.log",
        conda:
            "../../envs/pipeline.yaml"
        shell:
            "python -m symlearn analyse-pet {params.jobs} --structures {input.structures}"
            " --settings {params.settings:q} --runtime {params.runtime:q}"
            " --device {params.device} --threads {threads} --no-progress > {log} 2>&1"

else:
    # one rule per target set: their runs share the analysed epochs
    for _targets, _runs in PET_RUNS_BY_TARGETS.items():
        if not _runs:
            continue
        _epochs = pet_analysed_epochs(config, _runs[0])

        rule:
            name:
                PET_RUN_ANALYSIS_RULES[_targets]
            message:
                "Symmetry analysis of PET run {wildcards.run} (seed {wildcards.seed}) at every"
                " analysed checkpoint"
            wildcard_constraints:
                run="|".join(re.escape(run) for run in _runs),
            input:
                checkpoints=complete_checkpoints(
                    expand(PET_CHECKPOINT, epoch=_epochs, allow_missing=True)
                ),
                structures=run_data("test"),
            output:
                **{table: expand(pattern, epoch=_epochs, allow_missing=True)
                   for table, pattern in PET_ANALYSIS.items()},
            params:
                settings=pet_analysis_settings_json,
                jobs=pet_analysis_jobs,
                device=DEVICE,
                runtime=ANALYSIS_RUNTIME["pet"],
            threads: lookup(dpath="analysis/pet/threads", within=config)
            resources:
                **job_resources("analyse_pet", checkpoints=len(_epochs)),
            benchmark:
                benchmark_file(PET_RUN_ANALYSIS_RULES[_targets], "run", "seed")
            log:
                f"{RESULTS}/logs/{PET_RUN_ANALYSIS_RULES[_targets]}/{{run}}/seed_{{seed}}.log",
            conda:
                "../../envs/pipeline.yaml"
            shell:
                "python -m symlearn analyse-pet {params.jobs} --structures {input.structures}"
                " --settings {params.settings:q} --runtime {params.runtime:q}"
                " --device {params.device} --threads {threads} --no-progress > {log} 2>&1"


# seconds of reading tables and drawing: under --profile slurm they run where snakemake
# runs, with no wait in a queue and no job start-up (docs/slurm.md)
localrules:
    collect_pet_analysis,
    collect_geometric_analysis,
    collect_purification,
    quadrature_table,
    collect_polarmae_analysis,


rule collect_pet_analysis:
    message:
        "Collecting the PET analysis tables of every run and checkpoint"
    input:
        unpack(pet_checkpoint_tables("standard")),
    output:
        errors=f"{RESULTS}/analysis/pet/errors.csv",
        spectrum=f"{RESULTS}/analysis/pet/spectrum.csv",
        # the per-structure rows: the bootstrap intervals of the claims and figures
        structures=f"{RESULTS}/analysis/pet/structures.parquet",
    params:
        checkpoints=pet_checkpoint_entries("standard"),
    benchmark:
        benchmark_file("collect_pet_analysis"),
    log:
        f"{RESULTS}/logs/collect_pet_analysis.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn collect --checkpoints {params.checkpoints:q}"
        " --out errors={output.errors} --out spectrum={output.spectrum}"
        " --out structures={output.structures} > {log} 2>&1"


rule collect_geometric_analysis:
    message:
        "Collecting the analysis tables of the PET runs trained on the geometric targets"
    input:
        unpack(pet_checkpoint_tables("geometric")),
    output:
        errors=f"{RESULTS}/analysis/pet/geometric/errors.csv",
        spectrum=f"{RESULTS}/analysis/pet/geometric/spectrum.csv",
        # the per-structure rows: the bootstrap intervals of the claims and figures
        structures=f"{RESULTS}/analysis/pet/geometric/structures.parquet",
    params:
        checkpoints=pet_checkpoint_entries("geometric"),
    benchmark:
        benchmark_file("collect_geometric_analysis"),
    log:
        f"{RESULTS}/logs/collect_geometric_analysis.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn collect --checkpoints {params.checkpoints:q}"
        " --out errors={output.errors} --out spectrum={output.spectrum}"
        " --out structures={output.structures} > {log} 2>&1"


rule purify_pet:
    message:
        "Purifying the readouts of PET run {wildcards.run} (seed {wildcards.seed}, final"
        " checkpoint)"
    input:
        checkpoint=complete_checkpoints(
            expand(PET_CHECKPOINT, epoch=PET_EPOCHS[-1], allow_missing=True)
        ),
        structures=run_data("test"),
        train=run_data("train"),
    output:
        table=f"{RESULTS}/analysis/purification/{{run}}/seed_{{seed}}.csv",
        # the chosen readout refit (stage readout_refit), an ordinary PET checkpoint
        refit=f"{RESULTS}/analysis/purification/{{run}}/seed_{{seed}}_readout_refit.ckpt",
        # the per-structure rows of every stage: finding 7's bootstrap interval
        structures=f"{RESULTS}/analysis/purification/{{run}}/seed_{{seed}}_structures.parquet",
    # one long job after its training: start it before the shorter analyses
    priority: 10
    params:
        settings=pet_analysis_settings_json,
        n_rotations=lookup(dpath="analysis/purification/n_rotations", within=config),
        n_offset=lookup(dpath="analysis/purification/n_offset_structures", within=config),
        refit_mu=json.dumps(config["analysis"]["purification"]["refit_mu"]),
        refit_structures=(
            ""
            if config["analysis"]["purification"]["refit_structures"] is None
            else f"--refit-structures {config['analysis']['purification']['refit_structures']}"
        ),
        seed=lookup(dpath="analysis/purification/seed", within=config),
        device=DEVICE,
        runtime=ANALYSIS_RUNTIME["pet"],
    threads: lookup(dpath="analysis/pet/threads", within=config)
    resources:
        **job_resources("purify_pet"),
    benchmark:
        benchmark_file("purify_pet", "run", "seed"),
    log:
        f"{RESULTS}/logs/purify_pet/{{run}}/seed_{{seed}}.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn purify-pet --checkpoint {input.checkpoint}"
        " --structures {input.structures} --settings {params.settings:q}"
        " --n-rotations {params.n_rotations} --seed {params.seed} --out {output.table}"
        " --train {input.train} --n-offset-structures {params.n_offset}"
        " --refit-mu {params.refit_mu:q} {params.refit_structures}"
        " --refit-checkpoint {output.refit} --structures-out {output.structures}"
        " --runtime {params.runtime:q} --device {params.device} --threads {threads}"
        " > {log} 2>&1"


rule collect_purification:
    message:
        "Collecting the purification tables of every purified PET run"
    input:
        unpack(purification_tables),
    output:
        table=f"{RESULTS}/analysis/purification.csv",
        structures=f"{RESULTS}/analysis/purification_structures.parquet",
    params:
        checkpoints=purification_entries,
    benchmark:
        benchmark_file("collect_purification"),
    log:
        f"{RESULTS}/logs/collect_purification.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn collect --checkpoints {params.checkpoints:q}"
        " --out purification={output.table} --out structures={output.structures}"
        " > {log} 2>&1"


rule quadrature_table:
    message:
        "The O(3) quadrature of degree {wildcards.degree} ({params.rule}), as a table"
    output:
        f"{RESULTS}/analysis/quadrature/degree_{{degree}}.csv",
    params:
        rule=config["analysis"]["quadrature"],
    benchmark:
        benchmark_file("quadrature_table", "degree"),
    log:
        f"{RESULTS}/logs/quadrature_table/degree_{{degree}}.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn quadrature-table --degree {wildcards.degree}"
        " --rule {params.rule} --out {output}"
        " > {log} 2>&1"


if ANALYSIS_JOBS == "per_checkpoint":

    rule analyse_polarmae:
        message:
            "Symmetry analysis of PoLAr-MAE run {wildcards.run} (seed {wildcards.seed}),"
            " {wildcards.phase} step {wildcards.step}"
        input:
            # every checkpoint of its phase, as the per-run job of that phase lists
            # them: a switch of analysis.jobs then reruns nothing, and a pre-training's
            # analyses still need no fine-tuning (one training job writes a phase's
            # checkpoints, so it waits for nothing more)
            checkpoints=complete_checkpoints(polarmae_phase_checkpoints),
            events=lartpc_data("test"),
        output:
            **POLARMAE_ANALYSIS,
        params:
            settings=polarmae_analysis_settings_json(),
            jobs=polarmae_analysis_jobs,
            device=DEVICE,
            runtime=ANALYSIS_RUNTIME["polarmae"],
        threads: lookup(dpath="analysis/polarmae/threads", within=config)
        resources:
            **job_resources("analyse_polarmae"),
        benchmark:
            benchmark_file("analyse_polarmae", "run", "seed", "phase", "step")
        log:
            f"{RESULTS}/logs/analyse_polarmae/{{run}}/seed_{{seed}}/{{phase}}_step_{{step}}.log",
        conda:
            "../../envs/pipeline.yaml"
        shell:
            "python -m symlearn analyse-polarmae {params.jobs} --events {input.events}"
            " --settings {params.settings:q} --runtime {params.runtime:q}"
            " --device {params.device} --threads {threads} --no-progress > {log} 2>&1"

else:

    # one job per run and phase: a pre-training's analyses need no fine-tuning, and
    # each table lists the same checkpoints as under per_checkpoint
    for _phase in POLARMAE_PHASES:

        rule:
            name:
                POLARMAE_RUN_ANALYSIS_RULES[_phase]
            message:
                f"Symmetry analysis of PoLAr-MAE run {{wildcards.run}} (seed"
                f" {{wildcards.seed}}) at every {_phase} checkpoint"
            input:
                checkpoints=complete_checkpoints(polarmae_checkpoints(_phase)),
                events=lartpc_data("test"),
            output:
                **{table: polarmae_checkpoints(_phase, pattern=pattern)
                   for table, pattern in POLARMAE_ANALYSIS.items()},
            params:
                settings=polarmae_analysis_settings_json(),
                jobs=polarmae_analysis_jobs,
                device=DEVICE,
                runtime=ANALYSIS_RUNTIME["polarmae"],
            threads: lookup(dpath="analysis/polarmae/threads", within=config)
            resources:
                **job_resources("analyse_polarmae", checkpoints=len(POLARMAE_STEPS[_phase])),
            benchmark:
                benchmark_file(POLARMAE_RUN_ANALYSIS_RULES[_phase], "run", "seed")
            log:
                f"{RESULTS}/logs/{POLARMAE_RUN_ANALYSIS_RULES[_phase]}/{{run}}/seed_{{seed}}.log",
            conda:
                "../../envs/pipeline.yaml"
            shell:
                "python -m symlearn analyse-polarmae {params.jobs} --events {input.events}"
                " --settings {params.settings:q} --runtime {params.runtime:q}"
                " --device {params.device} --threads {threads} --no-progress > {log} 2>&1"


rule collect_polarmae_analysis:
    message:
        "Collecting the PoLAr-MAE analysis tables of every run and checkpoint"
    input:
        unpack(polarmae_checkpoint_tables),
    output:
        errors=f"{RESULTS}/analysis/polarmae/errors.csv",
        spectrum=f"{RESULTS}/analysis/polarmae/spectrum.csv",
        instability=f"{RESULTS}/analysis/polarmae/instability.csv",
    params:
        checkpoints=polarmae_checkpoint_entries,
    benchmark:
        benchmark_file("collect_polarmae_analysis"),
    log:
        f"{RESULTS}/logs/collect_polarmae_analysis.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn collect --checkpoints {params.checkpoints:q}"
        " --out errors={output.errors} --out spectrum={output.spectrum}"
        " --out instability={output.instability} > {log} 2>&1"


rule polarmae_example:
    message:
        "fig1 (b)'s event, classified by the final PoLAr-MAE checkpoint in two orientations"
    input:
        # its first seed's
        checkpoint=polarmae_checkpoints("finetune", polarmae_example_run(),
                                        POLARMAE_SEEDS[polarmae_example_run()][0])[-1],
        events=lartpc_data("test"),
    output:
        f"{RESULTS}/analysis/polarmae/example.csv",
    params:
        settings=polarmae_analysis_settings_json(),
        run=polarmae_example_run(),
        runtime=ANALYSIS_RUNTIME["polarmae"],
        device=DEVICE,
    benchmark:
        benchmark_file("polarmae_example"),
    log:
        f"{RESULTS}/logs/polarmae_example.log",
    conda:
        "../../envs/pipeline.yaml"
    shell:
        "python -m symlearn polarmae-example --checkpoint {input.checkpoint}"
        " --events {input.events} --settings {params.settings:q} --run {params.run}"
        " --out {output} --runtime {params.runtime:q} --device {params.device}"
        " > {log} 2>&1"
