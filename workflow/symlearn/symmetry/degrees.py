"""The grid-degree rule, once (docs/symmetry.md, "Aliasing"). Torch-free: the workflow
names the quadrature tables and checks the configuration with it before any job runs,
and the analyses build their grids with the same functions."""

from __future__ import annotations


def required_degree(lambda_character: int | None = None,
                    lambda_variance: int | None = None,
                    lambda_content: int | None = None) -> int:
    """Smallest grid degree that resolves character projections up to
    ``lambda_character`` (D >= 2 lambda), orbit variances of outputs up to
    ``lambda_variance`` (D >= 2 lambda + 1), and projections up to
    ``lambda_character`` of a response whose content reaches ``lambda_content``
    without aliasing (D >= lambda_character + lambda_content: the product of
    D^lambda and D^l has degrees up to lambda + l)."""
    needs = [0]
    if lambda_character is not None:
        needs.append(2 * lambda_character)
    if lambda_variance is not None:
        needs.append(2 * lambda_variance + 1)
    if lambda_character is not None and lambda_content is not None:
        needs.append(lambda_character + lambda_content)
    return max(needs)


def analysis_degree(lambda_max: int, output_lambda: int) -> int:
    """The default grid of an analysis: projections up to ``lambda_max``
    (D >= 2 lambda_max) of responses carrying the model's outputs up to
    ``output_lambda`` without aliasing (D >= lambda_max + output_lambda), and at least
    degree 1, the least that tells an invariant output apart from a varying one (the
    orbit variance of an invariant needs D >= 1). Orbit variances of outputs above
    (D - 1) / 2 are then quadrature estimates, and so is anything else above
    D - lambda_max: the quadrature check measures how good."""
    return max(required_degree(lambda_character=lambda_max, lambda_content=output_lambda),
               required_degree(lambda_variance=0))


def grid_degree(configured: int | None, lambda_max: int, output_lambda: int) -> int:
    """The degree an analysis runs on: the configured one, else :func:`analysis_degree`."""
    return int(configured) if configured is not None else analysis_degree(lambda_max,
                                                                           output_lambda)


def resolves_variances(exactness: int, output_lambda: int) -> bool:
    """Whether a grid exact to degree ``exactness`` gives the orbit averages (and so A)
    of outputs up to ``output_lambda`` exactly, not as quadrature estimates."""
    return exactness >= required_degree(lambda_variance=output_lambda)
