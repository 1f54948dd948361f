"""The project as a whole: documentation, structure, files, logging, faults of the machine."""
