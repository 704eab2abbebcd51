"""Reading the binary log: the dump protocol, events, row images."""
