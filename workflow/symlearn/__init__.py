"""symlearn: rebuild the figures of "How unconstrained machine-learning models learn
physical symmetries" (Domina et al., arXiv:2603.24638) from data to plots."""

__version__ = "0.1.0"
