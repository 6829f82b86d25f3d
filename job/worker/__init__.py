"""The Batch array child (`python -m job run`): read, label and store one shard of images."""
