"""Install wsss_toolbox: ``pip install -e .`` (``make setup`` does this for you)."""
import os.path as osp
import re

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


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
    with open(osp.join(HERE, 'wsss_toolbox', 'version.py')) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


def read_readme() -> str:
    path = osp.join(HERE, 'README.md')
    return open(path).read() if osp.exists(path) else ''


setup(
    name='wsss_toolbox',
    version=read_version(),
    description='OpenMMLab-style toolbox for weakly supervised semantic segmentation '
    'from image-level labels',
    long_description=read_readme(),
    long_description_content_type='text/markdown',
    author='wsss_toolbox contributors',
    license='Apache License 2.0',
    python_requires='>=3.9',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    include_package_data=True,
    install_requires=read_requirements('requirements/runtime.txt'),
    extras_require={'tests': read_requirements('requirements/tests.txt')},
    classifiers=[
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
    zip_safe=False,
)
