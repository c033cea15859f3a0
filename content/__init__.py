"""The service catalog: bureaus, services, materials, forms, guides; signage content.

The kiosk-facing API (documented in docs/catalog.md)::

    catalog = content.load_catalog()            # or default_catalog(), loaded once per process
    catalog.service("liuguan.residence_permit")
    catalog.search("jzz")
    catalog.check_hall_services(ids)            # MissingServicesError lists what is missing
    content.load_signage().active_items(now)
"""

from content.catalog import DEFAULT_CATALOG, Catalog, default_catalog, load_catalog
from content.errors import (
    CatalogError,
    ContentError,
    MissingServicesError,
    Problem,
    SignageError,
    UnknownBureauError,
    UnknownServiceError,
)
from content.guide import render_guide
from content.schema import (
    Bureau,
    CounterKind,
    FieldType,
    FormField,
    Material,
    MaterialForm,
    Service,
    Text,
)
from content.search import pinyin_key, sort_by_pinyin
from content.signage import Screen, Signage, SignageItem, load_signage

__all__ = [
    "DEFAULT_CATALOG",
    "Bureau",
    "Catalog",
    "CatalogError",
    "ContentError",
    "CounterKind",
    "FieldType",
    "FormField",
    "Material",
    "MaterialForm",
    "MissingServicesError",
    "Problem",
    "Screen",
    "Service",
    "Signage",
    "SignageError",
    "SignageItem",
    "Text",
    "UnknownBureauError",
    "UnknownServiceError",
    "default_catalog",
    "load_catalog",
    "load_signage",
    "pinyin_key",
    "render_guide",
    "sort_by_pinyin",
]
