"""Everything that talks to the network or to the on-disk cache; the rest of pinner is pure."""
