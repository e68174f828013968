"""The metatomic family: the symmetry analysis of any exported ``AtomisticModel``.

``model.py`` loads a model file and decides what is analysed of its outputs,
``analyse.py`` is its adapter to the shared driver, ``diagnose.py`` the
``symlearn diagnose`` command. Nothing here trains: the models come from elsewhere
(``mtt export``, or any metatomic-compatible code).
"""
