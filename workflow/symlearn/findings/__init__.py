"""The paper's findings, each judged by a verdict computed from the analysis tables
(``claims``: one row per finding, its interval and what decides it), and the
learnability table they are judged with (``learnability``: whether the exactly
equivariant control learns each geometric target). Written by the figure command
(``symlearn figure claims``) beside the figures."""
