"""Install wsss_toolbox: ``pip install -e .`` (``make setup`` does this for you).

As in mmsegmentation, the package carries ``wsss_toolbox/.mim/`` (``configs``, ``tools``,
``model-index.yml``) so that ``mim train / test / run / search wsss_toolbox`` and mmengine's
``wsss_toolbox::`` config prefix find them. In the source tree the three entries are symbolic
links to the repository's folders; a wheel or sdist build copies what they point to.
"""
import os.path as osp
import re

from setuptools import find_packages, setup
from setuptools.command.editable_wheel import editable_wheel

HERE = osp.dirname(osp.abspath(__file__))
PACKAGE = 'wsss_toolbox'


def read_requirements(path: str) -> list:
    """Requirement lines of ``path`` without comments and blank lines."""
    requirements = []
    with open(osp.join(HERE, path)) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line:
                requirements.append(line)
    return requirements


def read_version() -> str:
    with open(osp.join(HERE, PACKAGE, 'version.py')) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


def read_readme() -> str:
    path = osp.join(HERE, 'README.md')
    return open(path).read() if osp.exists(path) else ''


class EditableWheel(editable_wheel):
    """An editable (PEP 660) wheel whose ``top_level.txt`` names the package's source folder.

    mim and mmengine locate an installed codebase as ``<dist location>/<first line of
    top_level.txt>`` (``mim.utils.get_installed_path``, ``mmengine.utils.get_installed_path``).
    A PEP 660 editable install leaves no package folder in site-packages (an import hook maps
    the name to the source tree), so that path would not exist; an absolute first line makes
    ``os.path.join`` return the source folder, whose ``.mim`` holds the links. The import name
    stays on the second line. Regular wheels keep the usual ``top_level.txt``.
    """

    def _ensure_dist_info(self) -> None:
        # setuptools (>= 64) calls this before it packs the dist-info into the editable wheel
        super()._ensure_dist_info()
        path = osp.join(str(self.dist_info_dir), 'top_level.txt')
        source = osp.join(HERE, PACKAGE)
        names = [PACKAGE]
        if osp.exists(path):
            with open(path) as f:
                names = f.read().split()
        with open(path, 'w') as f:
            f.write('\n'.join([source] + [n for n in names if n != source]) + '\n')


setup(
    name=PACKAGE,
    version=read_version(),
    description='OpenMMLab-style toolbox for weakly supervised semantic segmentation '
    'from image-level labels',
    long_description=read_readme(),
    long_description_content_type='text/markdown',
    author='wsss_toolbox contributors',
    license='Apache License 2.0',
    python_requires='>=3.9',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    # the .mim links are followed when a wheel is built (MANIFEST.in lists them for sdists)
    package_data={PACKAGE: ['.mim/model-index.yml', '.mim/configs/**/*.py',
                            '.mim/configs/**/*.yml', '.mim/configs/**/*.md',
                            '.mim/tools/**/*.py', '.mim/tools/**/*.sh',
                            'checkpoints/*.pth', 'checkpoints/*.json']},
    include_package_data=True,
    install_requires=read_requirements('requirements/runtime.txt'),
    extras_require={'tests': read_requirements('requirements/tests.txt')},
    cmdclass={'editable_wheel': EditableWheel},
    classifiers=[
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
    zip_safe=False,
)
