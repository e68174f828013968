"""The paper's findings, each judged by a verdict computed from the analysis tables
(``claims``: one row per finding, its interval and what decides it). Written by the
figure command (``symlearn figure claims``) beside the figures it is judged with."""
