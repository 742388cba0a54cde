"""The data cleaning pipeline: readers, normalisation, language ID, quality, dedup,
decontamination and outputs, as datatrove pipeline steps (see `pipeline.clean`)."""
