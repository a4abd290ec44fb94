"""Maps the top-level folders onto one import namespace, ``voxtune.*``.

pyproject cannot express "folder app/ is package voxtune.app, with all its sub-packages"
without listing each one, so the list is derived here and never goes stale.
"""

from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).parent
TOP_LEVEL = ("app", "engine", "kernels", "ui")


def _packages() -> tuple[list[str], dict[str, str]]:
    # "voxtune" itself is an implicit namespace package: it has no folder of its own.
    packages = ["voxtune.assets"]
    package_dir = {"voxtune.assets": "assets"}
    for top in TOP_LEVEL:
        package_dir[f"voxtune.{top}"] = top
        for init in sorted((ROOT / top).rglob("__init__.py")):
            rel = init.parent.relative_to(ROOT / top)
            packages.append(".".join(("voxtune", top, *rel.parts)))
    return packages, package_dir


packages, package_dir = _packages()
setup(
    packages=packages,
    package_dir=package_dir,
    package_data={
        "voxtune.assets": ["*", "eval-en/*"],
        "voxtune.engine": ["**/*.json", "**/*.md", "**/*.sql"],
    },
)
