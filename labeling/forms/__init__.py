"""Forms of the annotator pages."""
