"""One pipeline run per work dir: an exclusive lock file."""
import json
import os
import os.path as osp
import socket
import time
import warnings


class WorkDirLockedError(RuntimeError):
    """Another pipeline run holds the work dir."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


class WorkDirLock:
    """``with WorkDirLock(path):`` -- create ``path`` exclusively (``O_EXCL``) with this
    process's pid and host; a second run on the same work dir stops with a message naming the
    holder. A lock left by a process of this host that no longer exists (a run killed with
    ``kill -9``) is taken over with a warning."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.acquired = False

    def _holder(self) -> dict:
        try:
            with open(self.path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def acquire(self) -> None:
        os.makedirs(osp.dirname(self.path), exist_ok=True)
        me = dict(pid=os.getpid(), host=socket.gethostname(),
                  started=time.strftime('%Y-%m-%d %H:%M:%S'))
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                stale = (holder.get('host') == me['host'] and isinstance(holder.get('pid'), int)
                         and not _pid_alive(holder['pid']))
                if not stale:
                    raise WorkDirLockedError(
                        f'the work dir is in use by another pipeline run (pid '
                        f"{holder.get('pid', '?')} on {holder.get('host', '?')}, started "
                        f"{holder.get('started', '?')}): wait for it to finish, or use another "
                        f'--work-dir. If that run is gone, delete the lock file {self.path}.')
                warnings.warn(f'taking over the lock {self.path} of pid {holder["pid"]}, which '
                              'no longer runs (an interrupted pipeline run)')
                os.remove(self.path)
                continue
            with os.fdopen(fd, 'w') as f:
                json.dump(me, f)
            self.acquired = True
            return
        raise WorkDirLockedError(f'could not take the lock {self.path}')

    def release(self) -> None:
        if self.acquired and osp.exists(self.path):
            os.remove(self.path)
        self.acquired = False

    def __enter__(self) -> 'WorkDirLock':
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
