"""Country codes to the English names a digest shows.

The matcher's gazetteer (``monitor.matching``) is the one source of display names:
short, familiar forms ("Russia", "North Korea"), the user-assigned codes of
territories (XK Kosovo, XA Abkhazia, XO South Ossetia, XT Transnistria) and regions
named in articles (central-asia: Central Asia). A code
it does not know is looked up in CLDR (``babel``) if ``pycountry`` says it is a
real ISO 3166-1 code, and otherwise shown as is.
"""

from __future__ import annotations

from functools import cache

import pycountry
from babel import Locale

from monitor.matching.gazetteer import load_gazetteer

NO_COUNTRY = "No country"


@cache
def _cldr_names() -> dict[str, str]:
    return {str(code): str(name) for code, name in Locale("en").territories.items()}


def country_name(code: str) -> str:
    """The English display name of a country code or region slug; the code itself when unknown.

    Region slugs (``central-asia``) may come upper-cased (``CENTRAL-ASIA``): a digest shows
    "Central Asia" either way."""
    key = code.strip().upper()
    if not key:
        return NO_COUNTRY
    names = load_gazetteer().names
    if key in names:
        return names[key]
    if key.lower() in names:
        return names[key.lower()]
    country = pycountry.countries.get(alpha_2=key) if len(key) == 2 else None
    if country is None:
        return key
    return _cldr_names().get(key) or getattr(country, "common_name", None) or str(country.name)
