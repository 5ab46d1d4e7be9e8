"""Country codes to the English names a digest shows.

Names come from CLDR (``babel``): short, familiar forms ("Russia", "North Korea",
"Iran") rather than ISO's formal ones ("Russian Federation"). ``pycountry``
decides which codes are real ISO 3166-1 codes; the territories the gazetteer
gives user-assigned codes to are listed here. An unknown code is shown as is.
"""

from __future__ import annotations

from functools import cache

import pycountry
from babel import Locale

#: User-assigned codes for territories that are not ISO 3166-1 countries.
TERRITORIES = {
    "XK": "Kosovo",
    "XA": "Abkhazia",
    "XB": "South Ossetia",
    "XT": "Transnistria",
    "AB": "Abkhazia",
    "OS": "South Ossetia",
    "TR-PMR": "Transnistria",
}

NO_COUNTRY = "No country"


@cache
def _cldr_names() -> dict[str, str]:
    return {str(code): str(name) for code, name in Locale("en").territories.items()}


def country_name(code: str) -> str:
    """The English display name of a country code; the code itself when unknown."""
    key = code.strip().upper()
    if key in TERRITORIES and pycountry.countries.get(alpha_2=key) is None:
        return TERRITORIES[key]
    country = pycountry.countries.get(alpha_2=key) if len(key) == 2 else None
    if country is None:
        return key or NO_COUNTRY
    return _cldr_names().get(key) or getattr(country, "common_name", None) or str(country.name)
