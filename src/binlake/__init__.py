"""binlake: change data capture from MySQL-family databases into a DMS-layout data lake."""

__version__ = "0.1.0"
