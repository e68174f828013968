"""The workflow's configuration, one module per section, torch-free: each setting is
decided once, in the module that owns its section, and both the workflow
(``workflow/rules/common.smk``) and the jobs import it from there.

- :mod:`.base`: loading a file, the schema, command-line strings, ``ConfigError``;
- :mod:`.data`, :mod:`.pet` (:mod:`.pet_layers`), :mod:`.polarmae`, :mod:`.external`:
  the sections of the data and of each model family;
- :mod:`.analysis` and :mod:`.grids`: what each analysis job computes, on which grid;
- :mod:`.resources`: GPUs and threads on a cluster; :mod:`.reruns`: what reruns a job;
- :mod:`.checks`: every check gathered, as the workflow and ``check-config`` run it.
"""
