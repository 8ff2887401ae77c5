"""The dataset: reading article files, other tools' formats, importing annotations, and the export."""
