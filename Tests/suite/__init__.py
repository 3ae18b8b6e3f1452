"""How `make test` runs the suites: stage wall times, test and case counts, and the floor they must not drop below."""
