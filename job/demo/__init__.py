"""`make demo`: the whole pipeline against an emulated AWS on this machine, with sample images."""
