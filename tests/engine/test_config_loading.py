"""load_config: a syntax error names the config file (or the _base_ file) and the line,
where mmengine says ``File "<unknown>"``."""
import pytest
from mmengine.config import Config

from wsss_toolbox.engine.config import ConfigSyntaxError, load_config

BROKEN = "model = dict(type='X')\nb = dict(x=1,\nc = 3\n"


def test_a_good_config_loads(tmp_path):
    path = tmp_path / 'good.py'
    path.write_text("model = dict(type='X')\n")
    assert load_config(str(path)).model.type == 'X'


def test_mmengine_alone_does_not_name_the_file(tmp_path):
    path = tmp_path / 'broken.py'
    path.write_text(BROKEN)
    with pytest.raises(SyntaxError) as error:
        Config.fromfile(str(path))
    assert error.value.filename in ('<unknown>', None)  # what load_config fixes


def test_syntax_error_names_the_file_and_line(tmp_path):
    path = tmp_path / 'broken.py'
    path.write_text(BROKEN)
    with pytest.raises(ConfigSyntaxError) as error:
        load_config(str(path))
    assert error.value.filename == str(path) and error.value.lineno == 2
    assert error.value.text.startswith('b = dict(x=1,')
    assert error.value.msg == f"'(' was never closed in config file \"{path}\", line 2"


def test_syntax_error_in_a_base_names_the_base(tmp_path):
    (tmp_path / 'base').mkdir()
    base = tmp_path / 'base' / 'broken.py'
    base.write_text(BROKEN)
    child = tmp_path / 'child.py'
    child.write_text("_base_ = ['./base/broken.py']\nlr = 0.1\n")
    with pytest.raises(ConfigSyntaxError) as error:
        load_config(str(child))
    assert error.value.filename == str(base) and error.value.lineno == 2
    assert f'line 2 (a _base_ of "{child}")' in error.value.msg


def test_missing_config_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothing.py'):
        load_config(str(tmp_path / 'nothing.py'))
