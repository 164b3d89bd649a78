"""Everything in pinner that talks to the network or to the on-disk cache."""

import sys

# httpcore (httpx's own transport, which the clients keep where the environment names a proxy)
# imports trio whenever it is installed, to serve trio event loops as well; pinner runs on
# asyncio alone, and trio's import (attrs with it) was most of httpx's: about 0.1 s of CPU in a
# run that asks a registry. A trio imported before pinner is left as it is.
sys.modules.setdefault("trio", None)  # type: ignore[arg-type]

# httpx imports its command-line client, which imports click, pygments and rich, whenever they
# are installed (common beside other tools; here click and pygments, then rich failed): 31 more
# modules, a quarter of importing httpx, for a client pinner never runs. httpx then defines the
# stand-in `main` it has for when they are missing.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
