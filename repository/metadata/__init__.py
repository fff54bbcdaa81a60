"""metadata room: the Dublin Core record (schema, readers, oai_dc) and Vietnamese text."""
from repository.metadata.dublin_core import (
    DCMI_TYPES,
    ELEMENTS,
    canonical_record,
    check_date,
    date_years,
    description_source,
    is_language_tag,
    language_map,
    primary_title,
    read_dublin_core,
    schema,
    search_text,
    title_label,
    validate_record,
)
from repository.metadata.oai_dc import read_oai_dc, record_to_oai_dc
from repository.metadata.text import fold_for_search, normalise_text

__all__ = [
    "DCMI_TYPES", "ELEMENTS", "canonical_record", "check_date", "date_years", "description_source",
    "fold_for_search", "is_language_tag", "language_map", "normalise_text", "primary_title",
    "read_dublin_core", "read_oai_dc", "record_to_oai_dc", "schema", "search_text",
    "title_label", "validate_record",
]
