"""Render an HTML file in headless Chromium: which images the browser decoded, which pages of a
report show, and a screenshot. Tests skip without Chromium unless ``WSSS_REQUIRE_CHROMIUM=1``
(CI sets it and installs Debian's ``chromium``), where its absence fails them."""
import os
import os.path as osp
import re
import shutil
import subprocess
from typing import Dict, Optional

import pytest

CANDIDATES = ('chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable')
#: appended to a copy of the page: after the load event, the counts of images and decoded
#: images (``complete`` with a natural width) and of tables, and the pages shown, as
#: attributes of <body> (what --dump-dom prints)
PROBE = """<script>
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images);
  var decoded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  var shown = Array.prototype.slice.call(document.querySelectorAll('section.page')).filter(
    function (s) { return getComputedStyle(s).display !== 'none'; });
  document.body.setAttribute('data-images', images.length);
  document.body.setAttribute('data-decoded', decoded.length);
  document.body.setAttribute('data-tables', document.querySelectorAll('table').length);
  document.body.setAttribute('data-shown', shown.map(function (s) { return s.id; }).join(','));
});
</script>"""


def chromium() -> Optional[str]:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def require_chromium() -> str:
    """The browser's path; skips the test without one (fails with WSSS_REQUIRE_CHROMIUM=1)."""
    path = chromium()
    if path is None:
        message = ('no headless Chromium (`chromium` not on PATH; Debian: apt-get install '
                   'chromium)')
        if os.environ.get('WSSS_REQUIRE_CHROMIUM') == '1':
            pytest.fail(message + ' and WSSS_REQUIRE_CHROMIUM=1')
        pytest.skip(message)
    return path


def _run(args, tmp_dir: str) -> str:
    command = [require_chromium(), '--headless', '--no-sandbox', '--disable-gpu',
               '--hide-scrollbars', f'--user-data-dir={osp.join(tmp_dir, "profile")}',
               '--virtual-time-budget=10000', *args]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, HOME=tmp_dir))
    assert proc.returncode == 0, f'{command} failed: {proc.stderr[-3000:]}'
    return proc.stdout


def render(html_file: str, tmp_dir: str, fragment: str = '') -> Dict[str, str]:
    """Load a copy of ``html_file`` with :data:`PROBE` (at ``#fragment``); the attributes it
    set: ``images``, ``decoded``, ``tables``, ``shown`` (ids of the pages displayed)."""
    with open(html_file, encoding='utf-8') as f:
        text = f.read()
    assert '</body>' in text, f'{html_file} has no </body>'
    probe = osp.join(tmp_dir, 'probed.html')
    with open(probe, 'w', encoding='utf-8') as f:
        f.write(text.replace('</body>', PROBE + '</body>'))
    dom = _run(['--dump-dom', f'file://{probe}{fragment}'], tmp_dir)
    body = re.search(r'<body([^>]*)>', dom)
    assert body, f'no <body> in the DOM Chromium dumped of {html_file}'
    return dict(re.findall(r'data-(\w+)="([^"]*)"', body.group(1)))


def screenshot(html_file: str, tmp_dir: str, size=(1200, 1600)):
    """An RGB screenshot of ``html_file`` (numpy HxWx3)."""
    import mmcv
    out = osp.join(tmp_dir, 'screenshot.png')
    _run([f'--window-size={size[0]},{size[1]}', f'--screenshot={out}',
          f'file://{osp.abspath(html_file)}'], tmp_dir)
    return mmcv.imread(out, channel_order='rgb')
