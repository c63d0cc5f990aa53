#!/usr/bin/python3
"""Run Debian's masakari-api or masakari-engine (python3-masakari 14.0.2):

    run_masakari.py api|engine --config-file masakari.conf --log-file X.log

The same as /usr/bin/masakari-api and /usr/bin/masakari-engine, with one shim:
Debian bookworm's python3-oslo.messaging 14.0.3-0+deb12u1 rebuilds the request
context of a notification with RequestContext.from_dict() without read_deleted,
and Masakari 14.0.2 then refuses every create with "read_deleted can only be one
of 'no', 'yes' or 'only', not None" (HTTP 500). The shim fills in Masakari's
default, 'no'.
"""
import sys

import masakari.cmd  # noqa: F401  (first, as in the console scripts: eventlet)
from masakari import context

_from_dict = context.RequestContext.from_dict.__func__


def from_dict(cls, values, **kwargs):
    if values.get('read_deleted') is None:
        values = dict(values, read_deleted='no')
    return _from_dict(cls, values, **kwargs)


context.RequestContext.from_dict = classmethod(from_dict)


def main():
    which = sys.argv.pop(1) if len(sys.argv) > 1 else ''
    if which == 'api':
        from masakari.cmd.api import main as run
    elif which == 'engine':
        from masakari.cmd.engine import main as run
    else:
        sys.exit(__doc__)
    sys.argv[0] = 'masakari-' + which
    return run()


if __name__ == '__main__':
    sys.exit(main())
