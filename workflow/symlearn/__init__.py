"""symlearn: rebuild the figures of "How unconstrained machine-learning models learn
physical symmetries" (Domina et al., arXiv:2603.24638) from data to plots."""

__version__ = "0.1.0"

#: the Python door (symlearn.diagnosis), imported on first use: ``import symlearn``
#: stays light (the command line and the workflow import the package)
_LAZY = {"diagnose": "diagnosis", "Diagnosis": "diagnosis"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
