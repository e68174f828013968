"""ASE calculators for the tests of the calculator family, named by
``module:factory`` as ``symlearn diagnose --calculator`` takes them."""

from __future__ import annotations

import numpy as np
from ase.calculators.calculator import all_changes
from ase.calculators.emt import EMT

#: the field term c u . sum_i x_i added to EMT's energy
FIELD = 0.3
DIRECTION = np.array([0.0, 0.0, 1.0])


class FieldEMT(EMT):
    """EMT plus a uniform field on every atom: E + c u . sum_i x_i, forces F - c u. Not
    rotation-invariant: A has the closed form of tests/unit/test_metatomic.py."""

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        field = FIELD * float(DIRECTION @ self.atoms.positions.sum(axis=0))
        self.results["energy"] += field
        self.results["free_energy"] = self.results.get("free_energy", 0.0) + field
        self.results["forces"] = self.results["forces"] - FIELD * DIRECTION


class FailingEMT(EMT):
    """EMT that fails on structures of more than ``limit`` atoms."""

    limit = 4

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        if len(atoms) > self.limit:
            raise RuntimeError("no parameters for this structure")
        super().calculate(atoms, properties, system_changes)


class NaNEMT(EMT):
    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.results["forces"] = self.results["forces"] * np.nan


def emt():
    return EMT()


def field():
    return FieldEMT()


def failing():
    return FailingEMT()


def nan():
    return NaNEMT()


def not_a_calculator():
    return object()
