"""Settings with DMS's names: endpoints, task settings, table mappings."""
