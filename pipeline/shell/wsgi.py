"""Shell: the readers' application for a WSGI server of the site's choosing.

    NEWSLETTER_SITE=/home/marina/blog gunicorn pipeline.shell.wsgi:application

The site folder comes from NEWSLETTER_SITE (default: the current folder); the
secret from the variable `[send] secret_env` names, as for `newsletter serve`.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.shell.serve import make_app
from pipeline.shell.site import load_site

application = make_app(load_site(Path(os.environ.get("NEWSLETTER_SITE", "."))), os.environ)
