"""Everything in pinner that talks to the network or to the on-disk cache."""
