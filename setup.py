"""The build step pyproject.toml cannot say: the wheel ships the pipeline's default
configuration and its schema (``config/config.yaml``, ``workflow/schemas/``) inside the
package, copied from those files at build time, so that an installed ``symlearn``
(``pip install .``, not editable) reads the same defaults outside the repository.
:mod:`symlearn.settings.base` reads the repository's files when it runs from a checkout
and these copies otherwise."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

#: repository file -> its name in symlearn/settings/shipped/
SHIPPED = {"config/config.yaml": "config.yaml",
           "workflow/schemas/config.schema.yaml": "config.schema.yaml"}


class BuildWithDefaults(build_py):
    """build_py, then the default configuration and the schema into the package."""

    def run(self):
        super().run()
        target = Path(self.build_lib) / "symlearn" / "settings" / "shipped"
        self.mkpath(str(target))
        for source, name in SHIPPED.items():
            self.copy_file(source, str(target / name))

    def get_outputs(self, include_bytecode=True):
        target = Path(self.build_lib) / "symlearn" / "settings" / "shipped"
        return [*super().get_outputs(include_bytecode),
                *(str(target / name) for name in SHIPPED.values())]


setup(cmdclass={"build_py": BuildWithDefaults})
