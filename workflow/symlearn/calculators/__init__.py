"""The ASE-calculator family: any ``ase.calculators.calculator.Calculator`` (MACE,
CHGNet, SevenNet, ORB, EMT, ...) on the O(3) grid, trained elsewhere."""
